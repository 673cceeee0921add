"""Records → OTLP ``ExportTraceServiceRequest``, built directly with the opentelemetry-proto classes.

Runs on the export worker only. The attribute names are the contract of ``docs/wire.md``; a change
here is a change of the wire format.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from .._config import Settings
from .._record import Record
from .._version import VERSION
from .drops import DropReport

CLIENT = Span.SpanKind.SPAN_KIND_CLIENT
INTERNAL = Span.SpanKind.SPAN_KIND_INTERNAL
_SCOPE = InstrumentationScope(name="tiermix", version=VERSION)
_getrandbits = random.getrandbits


def resource_for(settings: Settings) -> Resource:
    resource = Resource()
    attrs = [
        ("service.name", settings.service),
        ("telemetry.sdk.name", "tiermix"),
        ("telemetry.sdk.version", VERSION),
        ("telemetry.sdk.language", "python"),
    ]
    if settings.environment:
        attrs.append(("deployment.environment.name", settings.environment))
    attrs.extend(settings.resource_attributes)
    for key, value in attrs:
        _put(resource.attributes, key, value)
    return resource


def _put(attrs: Any, key: str, value: object) -> None:
    kv: KeyValue = attrs.add()
    kv.key = key
    # bool before int: bool is an int subclass.
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    elif isinstance(value, str):
        kv.value.string_value = value
    elif isinstance(value, (list, tuple)):
        for item in value:
            kv.value.array_value.values.add().string_value = str(item)
    else:
        kv.value.string_value = str(value)


def call_attributes(record: Record, settings: Settings) -> tuple[str, list[tuple[str, object]]]:
    """Span name and attributes of one call, in wire.md order; ``None`` values are left out."""
    opts, scope, ex = record.options, record.scope, record.extracted
    operation = opts.operation or (ex.operation if ex else None) or "chat"
    request_model = record.request_model or opts.model
    model = ex.model if ex else None
    provider = opts.provider or (ex.provider if ex else None)
    attrs: list[tuple[str, object]] = [("gen_ai.operation.name", operation)]
    if provider:
        attrs.append(("gen_ai.provider.name", provider))
    if request_model:
        attrs.append(("gen_ai.request.model", request_model))
    if model:
        attrs.append(("gen_ai.response.model", model))
    if ex is not None:
        usage: tuple[tuple[str, int | None], ...] = (
            ("gen_ai.usage.input_tokens", ex.input_tokens),
            ("gen_ai.usage.output_tokens", ex.output_tokens),
            ("gen_ai.usage.cache_read.input_tokens", ex.cache_read_tokens),
            ("gen_ai.usage.cache_creation.input_tokens", ex.cache_write_tokens),
            ("gen_ai.usage.reasoning.output_tokens", ex.reasoning_tokens),
        )
        attrs.extend((key, tokens) for key, tokens in usage if tokens is not None)
        if ex.finish_reason:
            attrs.append(("gen_ai.response.finish_reasons", (str(ex.finish_reason),)))
    if record.error_type:
        attrs.append(("error.type", record.error_type))
    tenant = scope.tenant or settings.tenant
    route = opts.route or scope.route or settings.route
    routing = record.routing
    for key, value in (
        ("tiermix.tenant", tenant),
        ("tiermix.route", route),
        ("tiermix.user_hash", scope.user_hash),
        ("tiermix.request_id", record.request_id),
        ("tiermix.attempt", record.attempt),
        ("tiermix.final", record.final),
        ("tiermix.escalated", record.escalated),
        ("tiermix.failover", record.failover),
        ("tiermix.escalation_reason", record.escalation_reason),
        ("tiermix.escalation_detail", record.escalation_detail),
        ("tiermix.tier", opts.tier),
        ("tiermix.router", routing.router if routing else None),
        ("tiermix.routing_reason", routing.reason if routing else None),
        ("tiermix.routing_score", routing.score if routing else None),
        ("tiermix.ttft_ms", record.ttft_ms),
        ("tiermix.cost_usd", record.cost_usd),
        ("gen_ai.input.messages", record.content_in),
        ("gen_ai.output.messages", record.content_out),
    ):
        if value is not None:
            attrs.append((key, value))
    tags = dict(scope.tags)
    tags.update(opts.tags)
    tags.update(record.tags)
    attrs.extend(("tiermix.tag." + k, v) for k, v in tags.items())
    name = f"{operation} {request_model or model}" if (request_model or model) else operation
    return name, attrs


def ids_for(record: Record) -> tuple[int, int, int | None]:
    """(trace_id, span_id, parent_span_id): the app's OTel parent, else the cascade's trace, else new."""
    if record.parent is not None:
        trace_id, parent_id = record.parent
        return trace_id, _getrandbits(64) or 1, parent_id
    return record.trace_id or _getrandbits(128) or 1, _getrandbits(64) or 1, None


def encode(
    records: Sequence[Record], settings: Settings, resource: Resource, reports: Iterable[DropReport] = ()
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.CopyFrom(resource)
    ss = rs.scope_spans.add()
    ss.scope.CopyFrom(_SCOPE)
    spans = ss.spans
    for record in records:
        name, attrs = call_attributes(record, settings)
        trace_id, span_id, parent_id = ids_for(record)
        span = spans.add()
        span.trace_id = trace_id.to_bytes(16, "big")
        span.span_id = span_id.to_bytes(8, "big")
        if parent_id:
            span.parent_span_id = parent_id.to_bytes(8, "big")
        span.name = name
        span.kind = CLIENT
        span.start_time_unix_nano = record.start_ns
        span.end_time_unix_nano = record.end_ns
        if record.error_type:
            span.status.code = Status.StatusCode.STATUS_CODE_ERROR
        span_attrs = span.attributes
        for key, value in attrs:
            _put(span_attrs, key, value)
    for report in reports:
        span = spans.add()
        span.trace_id = (_getrandbits(128) or 1).to_bytes(16, "big")
        span.span_id = (_getrandbits(64) or 1).to_bytes(8, "big")
        span.name = "tiermix.drop_report"
        span.kind = INTERNAL
        span.start_time_unix_nano = report.since_ns
        span.end_time_unix_nano = report.until_ns
        _put(span.attributes, "tiermix.drop.count", report.count)
        _put(span.attributes, "tiermix.drop.reason", report.reason)
        _put(span.attributes, "tiermix.drop.since_unix_nano", report.since_ns)
    return request
