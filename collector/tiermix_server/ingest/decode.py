"""OTLP/HTTP trace bodies → flat spans.

Accepts ``application/x-protobuf`` and ``application/json`` (OTLP/JSON: hex trace/span ids, enums as
integers or names, unknown fields ignored), optionally ``Content-Encoding: gzip``. The body limit applies
*after* decompression, and decompression stops one byte past the limit, so a gzip bomb costs at most
``max_body_bytes`` of memory before it is answered with 413.

``read_spans`` reads protobuf bodies with the compiled ``_otlp_wire`` reader when the install built it:
the same spans as ``flatten``, the definition, at a fraction of its CPU (docs/performance.md).

Invariants: a body that cannot be parsed raises ``DecodeError`` (400); a parsed body never raises here —
a malformed span (bad id length, odd timestamps) is passed on for ``validate`` to reject on its own, so
one bad span never costs the good ones around it. Content attributes (prompts, completions) are dropped
while flattening unless content capture is on: they are never even converted.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tiermix_server.errors import DecodeError, PayloadTooLarge, UnsupportedMediaType

try:
    from tiermix_server.ingest import _otlp_wire
except ImportError:  # installed without a C compiler: flatten does the same work in Python
    _otlp_wire = None  # type: ignore[assignment]

COMPILED_READER = _otlp_wire is not None

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# Attributes that carry prompt or completion text (docs/security.md), by exact name and by prefix.
CONTENT_KEYS = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.content.prompt",
        "gen_ai.content.completion",
        "input.value",
        "output.value",
        "llm.prompts",
        "request_data",  # Logfire
        "response_data",  # Logfire
        "traceloop.entity.input",
        "traceloop.entity.output",
    }
)
CONTENT_PREFIXES = (
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "llm.input_messages.",
    "llm.output_messages.",
    "llm.prompts.",
    "llm.completions.",
    "embedding.embeddings.",  # OpenInference: embedded text and its vectors
)


# Request parameters a replay needs to send the same request again; read only while capturing.
CAPTURE_PARAM_KEYS = frozenset(
    {
        "gen_ai.request.temperature",
        "gen_ai.request.max_tokens",
        "gen_ai.request.top_p",
        "gen_ai.request.stop_sequences",
        "gen_ai.request.seed",
    }
)


def is_content_key(key: str) -> bool:
    return key in CONTENT_KEYS or key.startswith(CONTENT_PREFIXES)


def is_capture_key(key: str) -> bool:
    """What content capture reads: content attributes and the request parameters a replay resends."""
    return key in CONTENT_KEYS or key in CAPTURE_PARAM_KEYS or key.startswith(CONTENT_PREFIXES)


@dataclass(slots=True)
class Span:
    """One span, flattened: attribute values are plain Python values (lists for arrays).

    Not frozen, though nothing mutates it: a frozen dataclass sets each field through
    ``object.__setattr__``, which made building one (once per span) five times slower. The compiled
    reader (``_otlp_wire.c``) builds it with positional arguments, in this field order.
    """

    resource: Mapping[str, Any]
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: Mapping[str, Any]
    scope: str = ""  # the instrumentation scope's name: which instrumentation sent the span


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` → ``application/json``; raises 415 for anything else."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base in (PROTOBUF, JSON):
        return base
    raise UnsupportedMediaType(f"unsupported content type {content_type!r}: send {PROTOBUF} or {JSON}")


def decompress(body: bytes, content_encoding: str | None, max_body_bytes: int) -> bytes:
    """Undo ``Content-Encoding``; the limit applies to the decompressed size (gzip bombs)."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > max_body_bytes:
            raise PayloadTooLarge(f"body of {len(body)} bytes exceeds the limit of {max_body_bytes}")
        return body
    if encoding != "gzip":
        raise UnsupportedMediaType(f"unsupported content encoding {content_encoding!r}: use gzip or none")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_body_bytes + 1)
    except zlib.error as exc:
        raise DecodeError(f"body is not valid gzip: {exc}") from None
    if len(out) > max_body_bytes:
        raise PayloadTooLarge(f"decompressed body exceeds the limit of {max_body_bytes} bytes")
    if not inflater.eof:
        raise DecodeError("gzip body is truncated")
    return out


def parse(raw: bytes, media: str) -> ExportTraceServiceRequest:
    """Parse an ``ExportTraceServiceRequest`` from protobuf or OTLP/JSON bytes."""
    request = ExportTraceServiceRequest()
    if media == PROTOBUF:
        try:
            request.ParseFromString(raw)
        except (ProtobufDecodeError, ValueError) as exc:
            raise DecodeError(f"body is not a valid OTLP protobuf ExportTraceServiceRequest: {exc}") from None
        return request
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(f"body is not valid JSON: {type(exc).__name__}: {exc}"[:300]) from None
    if not isinstance(document, dict):
        raise DecodeError("OTLP/JSON body must be an object with resourceSpans")
    try:
        _hex_ids_to_base64(document)
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        raise DecodeError(f"body is not a valid OTLP/JSON ExportTraceServiceRequest: {exc}") from None
    return request


_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP/JSON writes ids as hex, protobuf's JSON mapping expects base64: convert in place.

    An id that is not hex becomes empty, so validation rejects that one span instead of the body.
    """
    for resource_spans in _list(document.get("resourceSpans", document.get("resource_spans"))):
        for scope_spans in _list(_get(resource_spans, "scopeSpans", "scope_spans")):
            for span in _list(_get(scope_spans, "spans")):
                if not isinstance(span, dict):
                    continue
                for key in _ID_FIELDS:
                    value = span.get(key)
                    if isinstance(value, str):
                        span[key] = _hex_to_base64(value)
                for link in _list(span.get("links")):
                    if isinstance(link, dict):
                        for key in _ID_FIELDS:
                            if isinstance(link.get(key), str):
                                link[key] = _hex_to_base64(link[key])


def _hex_to_base64(value: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(value)).decode("ascii")
    except (ValueError, binascii.Error):
        return ""


def _get(obj: Any, *keys: str) -> Any:
    if not isinstance(obj, dict):
        return None
    for key in keys:
        if key in obj:
            return obj[key]
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (None when unset)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: any_value(item.value) for item in value.kvlist_value.values}
    return getattr(value, kind)


def read_spans(
    request: ExportTraceServiceRequest,
    wire: bytes | None,
    *,
    keep_content: bool,
    kinds: dict[str, str],
    prefixes: tuple[str, ...],
) -> Iterable[Span]:
    """``flatten(request, keep_content=..., kinds=kinds, prefixes=prefixes)``, read from ``wire`` (the
    protobuf bytes ``request`` was parsed from, None for JSON or when the compiled reader is switched
    off) by the compiled reader when it can. Content is only ever kept by ``flatten``: capture is rare,
    and its attribute rules live in this module."""
    if wire is not None and not keep_content and _otlp_wire is not None:
        spans = _otlp_wire.flatten(wire, kinds, prefixes, Span)
        if spans is not None:  # else an encoding only flatten reproduces (a field given twice, ...)
            return spans
    return flatten(request, keep_content=keep_content, kinds=kinds, prefixes=prefixes)


def flatten(
    request: ExportTraceServiceRequest,
    *,
    keep_content: bool,
    keys: Collection[str] | None = None,
    prefixes: tuple[str, ...] = (),
    kinds: Mapping[str, str] | None = None,
) -> Iterator[Span]:
    """Every span of ``request`` with its resource attributes, content attributes dropped unless kept.

    With ``keys`` (and ``prefixes``), only those attributes are converted (plus content when kept):
    reading an attribute value out of protobuf is the costliest step per span, so values nobody maps
    are never read. ``kinds`` (attribute → the ``AnyValue`` field it usually holds: ``string_value``,
    ``int_value`` or ``""``) narrows ``keys`` further and lets the usual kind skip ``WhichOneof``: a
    non-default value of a oneof member proves that member is set, so the answer is exact either way.
    """
    if kinds is not None:
        keys = kinds
    kind_of = kinds.get if kinds is not None else None
    for resource_spans in request.resource_spans:
        resource = {kv.key: any_value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                attributes: dict[str, Any] = {}
                for kv in span.attributes:
                    key = kv.key
                    expected = kind_of(key) if kind_of is not None else None
                    if expected is None:
                        if keys is None:
                            if not keep_content and is_content_key(key):
                                continue
                        elif (
                            key not in keys
                            and not key.startswith(prefixes)
                            and not (keep_content and is_capture_key(key))
                        ):
                            continue
                    value = kv.value
                    if expected == "string_value":
                        text = value.string_value
                        if text:
                            attributes[key] = text
                            continue
                    elif expected == "int_value":
                        number = value.int_value
                        if number:
                            attributes[key] = number
                            continue
                    kind = value.WhichOneof("value")  # the two common kinds inline: this loop is hot
                    if kind == "string_value":
                        attributes[key] = value.string_value
                    elif kind == "int_value":
                        attributes[key] = value.int_value
                    else:
                        attributes[key] = any_value(value)
                status = span.status
                yield Span(
                    resource,
                    span.trace_id,
                    span.span_id,
                    span.parent_span_id,
                    span.name,
                    span.kind,
                    span.start_time_unix_nano,
                    span.end_time_unix_nano,
                    status.code,
                    status.message,
                    attributes,
                    scope,
                )
