"""The compiled OTLP reader (ingest/_otlp_wire.c) gives exactly what ``decode.flatten`` gives.

``flatten`` is the definition. Spans are compared by ``repr``, so a float's sign and a NaN count, and so
does every value's type (``True`` against ``1``). Every test also checks which path answered: a reader
that always fell back to ``flatten`` would pass the comparisons and do nothing.
"""

from __future__ import annotations

import json
import os
import random
import struct
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.unit.ingest.builders import request, span
from tiermix_server.errors import DecodeError
from tiermix_server.ingest import decode
from tiermix_server.ingest.decode import PROTOBUF, Span, flatten, parse, read_spans
from tiermix_server.ingest.mapping import ATTRIBUTE_KINDS, ATTRIBUTE_PREFIXES
from tiermix_server.ingest.process import process
from tiermix_server.ingest.validate import Limits

CORPUS = Path(__file__).resolve().parents[2] / "peers" / "corpus"

if decode._otlp_wire is None:
    # scripts/test.sh installs a C compiler and builds the reader, and says so: there, its absence fails.
    if os.environ.get("TIERMIX_EXPECT_COMPILED") == "1":
        raise AssertionError("the compiled OTLP reader was not built (tiermix_server.ingest._otlp_wire)")
    pytest.skip("the compiled OTLP reader is not built in this install", allow_module_level=True)
wire = decode._otlp_wire


def compiled(body: bytes) -> list[Span] | None:
    return wire.flatten(body, ATTRIBUTE_KINDS, ATTRIBUTE_PREFIXES, Span)


def by_python(body: bytes) -> list[Span]:
    return list(
        flatten(parse(body, PROTOBUF), keep_content=False, kinds=ATTRIBUTE_KINDS, prefixes=ATTRIBUTE_PREFIXES)
    )


def assert_same(body: bytes, *, compiled_answers: bool = True) -> None:
    answer = compiled(body)
    if compiled_answers:
        assert answer is not None, "the compiled reader fell back on an ordinary body"
    if answer is not None:
        assert repr(answer) == repr(by_python(body))


def corpus_bodies() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(CORPUS.glob("*.json")):
        for n, otlp in enumerate(json.loads(path.read_text())["requests"]):
            message = json_format.ParseDict(otlp, ExportTraceServiceRequest(), ignore_unknown_fields=True)
            out.append((f"{path.stem}[{n}]", message.SerializeToString()))  # ids are base64: protobuf's JSON
    return out


@pytest.mark.parametrize(("name", "body"), corpus_bodies(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_peer_instrumentations_request_reads_the_same(name: str, body: bytes) -> None:
    assert_same(body)


def test_the_sdks_spans_read_the_same_and_share_their_resource() -> None:
    message = request([span(), span(status_code=2), span({"tiermix.tag.team": "a", "other": 1})])
    message.resource_spans[0].resource.attributes.add(key="service.name").value.string_value = "shop"
    body = message.SerializeToString()
    assert_same(body)
    spans = compiled(body)
    assert spans is not None and spans[0].resource is spans[2].resource
    assert spans[2].attributes["tiermix.tag.team"] == "a" and "other" not in spans[2].attributes


_SCALAR = st.one_of(
    st.text(max_size=6),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(),  # NaN, infinities and -0.0 included
    st.binary(max_size=6),
)


def _any_value(value: Any) -> AnyValue:
    out = AnyValue()
    if value is None:
        return out  # no member set
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, bytes):
        out.bytes_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, list):
        out.array_value.SetInParent()
        out.array_value.values.extend(_any_value(item) for item in value)
    else:
        out.kvlist_value.SetInParent()
        for key, item in value:
            out.kvlist_value.values.add(key=key, value=_any_value(item))
    return out


_VALUES = st.recursive(
    st.one_of(st.none(), _SCALAR),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.lists(st.tuples(st.text(max_size=3), inner), max_size=3).map(tuple)
    ),
    max_leaves=8,
)
_KEYS = st.sampled_from([*sorted(ATTRIBUTE_KINDS)[:40], "tiermix.tag.x", "tiermix.tag.", "other", "", "ü"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(st.tuples(_KEYS, _VALUES), max_size=8), min_size=1, max_size=4),
    st.lists(st.tuples(st.sampled_from(["service.name", "tiermix.tenant", "x"]), _VALUES), max_size=3),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
)
def test_any_attribute_values_and_kinds_read_the_same(
    spans: list[list[tuple[str, Any]]], resource: list[tuple[str, Any]], kind: int
) -> None:
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    for key, value in resource:
        resource_spans.resource.attributes.add(key=key, value=_any_value(value))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "scope ü"
    for n, attributes in enumerate(spans):
        one = scope_spans.spans.add(name=f"span {n}", kind=kind, start_time_unix_nano=2**64 - 1 - n)  # type: ignore[arg-type]
        one.status.code = kind  # type: ignore[assignment]  # an open enum: any int32
        one.status.message = "ü"
        for key, value in attributes:  # a key given twice: the last one wins in both
            one.attributes.append(KeyValue(key=key, value=_any_value(value)))
    assert_same(message.SerializeToString())


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    tag = _varint(number << 3 | wire_type)
    return tag + (_varint(len(payload)) + payload if wire_type == 2 else payload)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _body(span_bytes: bytes, resource: bytes = b"", before: bool = True) -> bytes:
    scope_spans = _field(1, 2, _field(1, 2, b"tiermix")) + _field(2, 2, span_bytes)
    resource_field = _field(1, 2, resource)
    inner = (
        resource_field + _field(2, 2, scope_spans) if before else _field(2, 2, scope_spans) + resource_field
    )
    return _field(1, 2, inner)


_ATTRIBUTE = _field(9, 2, _field(1, 2, b"gen_ai.request.model") + _field(2, 2, _field(1, 2, b"gpt-4o")))
_RESOURCE = _field(1, 2, _field(1, 2, b"service.name") + _field(2, 2, _field(1, 2, b"shop")))


@pytest.mark.parametrize(
    ("case", "span_bytes", "answers"),
    [
        ("plain", _field(5, 2, b"chat") + _ATTRIBUTE, True),
        (
            "fields in any order, unknown fields",
            _ATTRIBUTE + _field(99, 0, b"\x05") + _field(5, 2, b"c"),
            True,
        ),
        ("a name given twice: the last wins", _field(5, 2, b"a") + _field(5, 2, b"b"), False),
        ("a known field of another wire type", _field(6, 2, b"x") + _ATTRIBUTE, False),
        (
            "a oneof set twice",
            _field(
                9, 2, _field(1, 2, b"gen_ai.request.model") + _field(2, 2, _field(1, 2, b"a") + b"\x18\x07")
            ),
            False,
        ),
        (
            "a status given twice: merged",
            _field(15, 2, b"\x18\x02") + _field(15, 2, _field(2, 2, b"m")),
            False,
        ),
        (
            "the value before the key",
            _field(9, 2, _field(2, 2, b"\x18\x07") + _field(1, 2, b"gen_ai.usage.input_tokens")),
            True,
        ),
        ("a kind as a 10-byte negative varint", b"\x30" + _varint(2**64 - 5), True),
        (
            "fixed64 times at their limits",
            b"\x39" + struct.pack("<Q", 2**64 - 1) + b"\x41" + struct.pack("<Q", 0),
            True,
        ),
        ("an attribute without a value", _field(9, 2, _field(1, 2, b"gen_ai.request.model")), True),
    ],
)
def test_hand_made_encodings_read_the_same_or_fall_back(case: str, span_bytes: bytes, answers: bool) -> None:
    for before in (True, False):  # the resource after its spans on the wire is still every span's resource
        body = _body(span_bytes, _RESOURCE, before)
        parse(body, PROTOBUF)  # upb accepts every one of these
        assert (compiled(body) is not None) is answers, case
        assert repr(
            list(
                read_spans(
                    parse(body, PROTOBUF),
                    body,
                    keep_content=False,
                    kinds=ATTRIBUTE_KINDS,
                    prefixes=ATTRIBUTE_PREFIXES,
                )
            )
        ) == repr(by_python(body))


def _nested(depth: int) -> bytes:
    """An attribute value ``depth`` arrays deep, written by hand: protobuf refuses to write one too deep."""
    value = _field(1, 2, b"leaf")
    for _ in range(depth):
        value = _field(5, 2, _field(1, 2, value))
    return _field(9, 2, _field(1, 2, b"tiermix.tag.deep") + _field(2, 2, value))


def test_nesting_within_upbs_limit_reads_the_same_and_past_the_readers_own_falls_back() -> None:
    shallow = _body(_nested(40))
    assert_same(shallow)
    deep = _body(_nested(200))  # upb refuses it (its depth limit), and the reader never recurses that far
    with pytest.raises(DecodeError):
        parse(deep, PROTOBUF)
    assert compiled(deep) is None


def test_mutated_bodies_upb_accepts_read_the_same_and_the_rest_are_refused_before_the_reader() -> None:
    base = corpus_bodies()
    rng = random.Random(7)
    answered = fell_back = refused = 0
    for _ in range(3000):
        _, body = rng.choice(base)
        mutated = bytearray(body)
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(mutated))
            choice = rng.randrange(3)
            if choice == 0:
                mutated[at] = rng.randrange(256)
            elif choice == 1:
                del mutated[at : at + rng.randrange(1, 4)]
            else:
                mutated[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
        candidate = bytes(mutated)
        try:
            message = parse(candidate, PROTOBUF)
        except DecodeError:
            refused += 1
            compiled(candidate)  # never read by the collector, but must not crash or read out of bounds
            continue
        answer = compiled(candidate)
        if answer is None:
            fell_back += 1
            continue
        answered += 1
        expected = flatten(message, keep_content=False, kinds=ATTRIBUTE_KINDS, prefixes=ATTRIBUTE_PREFIXES)
        assert repr(answer) == repr(list(expected))
    assert answered > 100 and refused > 300, (answered, fell_back, refused)  # fallbacks: the hand-made cases


def test_the_reader_keeps_no_reference_on_any_path() -> None:
    good = corpus_bodies()[0][1]
    fallback = _body(_field(5, 2, b"a") + _field(5, 2, b"b"))
    broken = good[:-3]
    for body in (good, fallback, broken):
        compiled(body)  # the first call's one-time allocations (interned strings, caches)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(2000):
            for body in (good, fallback, broken):
                compiled(body)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 64 * 1024, f"{grown} bytes kept after 6,000 reads"


def test_wrong_arguments_are_type_errors() -> None:
    with pytest.raises(TypeError):
        wire.flatten(b"", ATTRIBUTE_KINDS, ["gen_ai."], Span)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        wire.flatten(b"", ATTRIBUTE_KINDS, (1,), Span)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        wire.flatten("text", ATTRIBUTE_KINDS, (), Span)  # type: ignore[arg-type]


def test_a_whole_request_processes_to_the_same_rows_either_way(make_settings: Any) -> None:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing.enricher import build_enricher

    settings = make_settings()
    enricher = build_enricher(settings, open_meta(settings), background=False)
    limits = Limits(now_ns=time.time_ns(), max_age_days=3650)  # the corpus was captured days ago
    accepted = 0
    for _, body in corpus_bodies():
        by_wire = process(parse(body, PROTOBUF), enricher=enricher, limits=limits, wire=body)
        by_message = process(parse(body, PROTOBUF), enricher=enricher, limits=limits)
        assert repr(by_wire) == repr(by_message)
        accepted += len(by_wire.calls)
    assert accepted > 30
