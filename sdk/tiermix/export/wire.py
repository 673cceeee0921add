"""The protobuf wire format of the few OTLP messages the SDK sends, written directly as bytes.

Building ``ExportTraceServiceRequest`` with the protobuf classes cost ~10 µs per span on the export
worker — in the application's process, under its GIL — where writing the same bytes costs a third of
that (bench/sdk_overhead.py, "end to end"). Field numbers and wire types are those of
opentelemetry-proto (``trace/v1/trace.proto``, ``common/v1/common.proto``); every field is written in
field-number order with protobuf's own encodings, so the bytes are exactly what the protobuf classes
serialize (tests/unit/sdk/test_sdk_wire.py parses them back and compares byte for byte).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

_VARINT_1 = [bytes((n,)) for n in range(128)]
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack


def varint(value: int) -> bytes:
    if 0 <= value < 128:
        return _VARINT_1[value]
    if value < 0:
        value += 1 << 64  # int64: two's complement, ten bytes
    out = bytearray()
    while value > 127:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the payload's length, the payload."""
    return tag + varint(len(payload)) + payload


# -- common.proto ----------------------------------------------------------------------------------
def any_value(value: object) -> bytes:
    """``AnyValue``: string 1, bool 2, int 3, double 4, array 5 (of strings, as the SDK sends lists)."""
    if isinstance(value, str):
        return field(b"\x0a", value.encode())
    if isinstance(value, bool):  # before int: bool is an int subclass
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + varint(value)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, (list, tuple)):
        return field(b"\x2a", b"".join(field(b"\x0a", field(b"\x0a", str(item).encode())) for item in value))
    return field(b"\x0a", str(value).encode())


_key_prefixes: dict[str, bytes] = {}


def key_value(key: str, value: object) -> bytes:
    """``KeyValue``: key 1, value 2. The key's bytes are cached: the SDK sends a few dozen keys."""
    prefix = _key_prefixes.get(key)
    if prefix is None:
        prefix = field(b"\x0a", key.encode())
        if len(_key_prefixes) < 4096:  # tag keys come from the application: bounded
            _key_prefixes[key] = prefix
    return prefix + field(b"\x12", any_value(value))


def attributes(tag: bytes, pairs: Iterable[tuple[str, object]]) -> bytes:
    """Repeated ``KeyValue`` under field ``tag``."""
    return b"".join(field(tag, key_value(key, value)) for key, value in pairs)


_span_attributes: dict[tuple[str, type, object], bytes] = {}
_SPAN_ATTRIBUTES_CACHED = 20_000  # ~2 MiB at most


def span_attributes(pairs: Iterable[tuple[str, object]]) -> bytes:
    """``Span.attributes`` (field 9). Most (key, value) pairs repeat from call to call — operation,
    provider, model, tenant, route, finish reason, small counts — so each pair's bytes are kept, up to
    a bound; the type is part of the cache key, since ``True == 1``. Floats are never kept: ``0.0 ==
    -0.0`` (different bytes), and latencies, scores and costs rarely repeat, so they would only fill
    the bound and keep the pairs that do repeat out."""
    cache = _span_attributes
    parts = []
    for key, value in pairs:
        if value.__class__ is float:
            parts.append(field(b"\x4a", key_value(key, value)))
            continue
        entry = (key, value.__class__, value)
        try:
            written = cache.get(entry)
        except TypeError:  # an unhashable value (a list in a tag): written every time
            parts.append(field(b"\x4a", key_value(key, value)))
            continue
        if written is None:
            written = field(b"\x4a", key_value(key, value))
            if len(cache) < _SPAN_ATTRIBUTES_CACHED:
                cache[entry] = written
        parts.append(written)
    return b"".join(parts)


def scope(name: str, version: str) -> bytes:
    """``InstrumentationScope``: name 1, version 2."""
    return field(b"\x0a", name.encode()) + field(b"\x12", version.encode())


def resource(pairs: Iterable[tuple[str, object]]) -> bytes:
    """``Resource``: attributes 1."""
    return attributes(b"\x0a", pairs)


# -- trace.proto -----------------------------------------------------------------------------------
STATUS_ERROR = field(b"\x7a", b"\x18\x02")  # Span.status (15) = Status{code (3): STATUS_CODE_ERROR}


_names: dict[str, bytes] = {}


def span(
    trace_id: bytes,
    span_id: bytes,
    parent_span_id: bytes,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    pairs: Iterable[tuple[str, object]],
    error: bool = False,
) -> bytes:
    """``Span``: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6, start 7 and end 8 (fixed64),
    attributes 9, status 15. Unset (empty, zero) fields are left out, as protobuf leaves them out."""
    parts = [field(b"\x0a", trace_id), field(b"\x12", span_id)]
    if parent_span_id:
        parts.append(field(b"\x22", parent_span_id))
    if name:
        written = _names.get(name)
        if written is None:
            written = field(b"\x2a", name.encode())
            if len(_names) < 1024:  # "operation model": a few per application
                _names[name] = written
        parts.append(written)
    if kind:
        parts.append(b"\x30" + varint(kind))
    if start_ns:
        parts += (b"\x39", _pack_fixed64(start_ns))
    if end_ns:
        parts += (b"\x41", _pack_fixed64(end_ns))
    parts.append(span_attributes(pairs))
    if error:
        parts.append(STATUS_ERROR)
    return b"".join(parts)


def export_request(resource_bytes: bytes, scope_bytes: bytes, spans: Iterable[bytes]) -> bytes:
    """``ExportTraceServiceRequest`` with one ``ResourceSpans`` (resource 1, scope_spans 2) holding one
    ``ScopeSpans`` (scope 1, spans 2)."""
    scope_spans = field(b"\x0a", scope_bytes) + b"".join(field(b"\x12", one) for one in spans)
    resource_spans = field(b"\x0a", resource_bytes) + field(b"\x12", scope_spans)
    return field(b"\x0a", resource_spans)
