"""Build OTLP trace requests for collector tests (protobuf messages, as an exporter would send)."""

from __future__ import annotations

import gzip
import itertools
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

_ids = itertools.count(1)


def next_span_id() -> int:
    """A span id unique within this process and across processes (random high bits)."""
    return (int.from_bytes(os.urandom(4), "big") << 32 | next(_ids)) or 1


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, (list, tuple)):
        out = AnyValue()
        out.array_value.values.extend(any_value(item) for item in value)
        return out
    return AnyValue(string_value=str(value))


def key_values(attributes: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


def sdk_attributes(**overrides: Any) -> dict[str, Any]:
    """The attributes the tiermix SDK puts on a chat call (docs/wire.md)."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.response.finish_reasons": ["stop"],
        "tiermix.tenant": "acme",
        "tiermix.route": "support.answer",
    }
    attributes.update(overrides)
    return {key: value for key, value in attributes.items() if value is not None}


def span(
    attributes: Mapping[str, Any] | None = None,
    *,
    span_id: int | None = None,
    name: str = "chat gpt-4o-mini",
    start_ns: int | None = None,
    duration_ns: int = 250_000_000,
    status_code: int = 0,
    trace_id: bytes | None = None,
) -> PbSpan:
    start = time.time_ns() - duration_ns if start_ns is None else start_ns
    out = PbSpan(
        trace_id=trace_id if trace_id is not None else os.urandom(16),
        span_id=(span_id if span_id is not None else next_span_id()).to_bytes(8, "big"),
        name=name,
        kind=PbSpan.SpanKind.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + duration_ns,
        status=Status(code=status_code),
    )
    out.attributes.extend(key_values(sdk_attributes() if attributes is None else attributes))
    return out


def request(spans: Iterable[PbSpan], resource: Mapping[str, Any] | None = None) -> ExportTraceServiceRequest:
    out = ExportTraceServiceRequest()
    resource_spans = out.resource_spans.add()
    default_resource = {"service.name": "shop", "telemetry.sdk.name": "tiermix"}
    resource_spans.resource.attributes.extend(key_values(default_resource if resource is None else resource))
    resource_spans.scope_spans.add().spans.extend(spans)
    return out


def body(spans: Iterable[PbSpan], *, compress: bool = False) -> bytes:
    raw = request(spans).SerializeToString()
    return gzip.compress(raw) if compress else raw
