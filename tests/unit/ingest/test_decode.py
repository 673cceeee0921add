"""OTLP body decoding: content types, gzip, limits after decompression, OTLP/JSON, content dropping."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.ingest.builders import request, span
from tiermix_server.errors import DecodeError, PayloadTooLarge, UnsupportedMediaType
from tiermix_server.ingest.decode import JSON, PROTOBUF, decompress, flatten, media_type, parse


def to_otlp_json(message: object) -> bytes:
    """OTLP/JSON as an exporter writes it: camelCase, hex ids, integer enums."""
    document = json_format.MessageToDict(message, use_integers_for_enums=True)  # type: ignore[arg-type]
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for item in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in item:
                        import base64

                        item[key] = base64.b64decode(item[key]).hex()
    return json.dumps(document).encode()


def test_media_type_accepts_protobuf_and_json_with_parameters() -> None:
    assert media_type("application/x-protobuf") == PROTOBUF
    assert media_type("Application/JSON; charset=utf-8") == JSON


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/grpc"])
def test_media_type_refuses_other_types_with_415(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        media_type(content_type)


def test_gzip_body_is_inflated() -> None:
    raw = request([span()]).SerializeToString()
    assert decompress(gzip.compress(raw), "gzip", 1 << 20) == raw


def test_gzip_bomb_is_refused_once_past_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    assert len(bomb) < 100_000
    with pytest.raises(PayloadTooLarge):
        decompress(bomb, "gzip", 1024 * 1024)


def test_uncompressed_body_over_the_limit_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        decompress(b"x" * 2049, None, 2048)


def test_truncated_or_invalid_gzip_is_a_decode_error() -> None:
    compressed = gzip.compress(request([span()]).SerializeToString())
    with pytest.raises(DecodeError):
        decompress(compressed[: len(compressed) // 2], "gzip", 1 << 20)
    with pytest.raises(DecodeError):
        decompress(b"not gzip at all", "gzip", 1 << 20)


def test_unknown_content_encoding_is_415() -> None:
    with pytest.raises(UnsupportedMediaType):
        decompress(b"abc", "br", 1 << 20)


def test_garbage_protobuf_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        parse(b"\xff\xff\xff\xff\x0f", PROTOBUF)


@pytest.mark.parametrize("body", [b"{", b"[1, 2]", b'{"resourceSpans": [{"scopeSpans": 3}]}', b"\xff"])
def test_bad_json_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError):
        parse(body, JSON)


def test_otlp_json_with_hex_ids_integer_enums_and_unknown_fields() -> None:
    original = span(span_id=0x1122334455667788)
    document = json.loads(to_otlp_json(request([original])))
    document["somethingNew"] = {"x": 1}
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["futureField"] = "ignored"
    parsed = parse(json.dumps(document).encode(), JSON)
    (decoded,) = flatten(parsed, keep_content=False)
    assert decoded.span_id == bytes.fromhex("1122334455667788")
    assert decoded.trace_id == original.trace_id
    assert decoded.kind == 3
    assert decoded.attributes["gen_ai.usage.input_tokens"] == 120
    assert decoded.attributes["gen_ai.response.finish_reasons"] == ["stop"]


def test_otlp_json_with_a_non_hex_id_keeps_the_body_and_empties_that_id() -> None:
    document = json.loads(to_otlp_json(request([span(), span()])))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "zz-not-hex"
    spans = list(flatten(parse(json.dumps(document).encode(), JSON), keep_content=False))
    assert [len(s.span_id) for s in spans] == [0, 8]


def test_content_attributes_are_dropped_unless_kept() -> None:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": '[{"role": "user"}]',
        "gen_ai.prompt.0.content": "secret",
        "llm.input_messages.0.message.content": "secret",
        "input.value": "secret",
    }
    message = request([span(attributes)])
    (dropped,) = flatten(message, keep_content=False)
    assert set(dropped.attributes) == {"gen_ai.operation.name"}
    (kept,) = flatten(message, keep_content=True)
    assert set(kept.attributes) == set(attributes)


# -- properties ------------------------------------------------------------------------------------
attribute_values = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=5), max_size=3),
)
attribute_maps = st.dictionaries(st.text(min_size=1, max_size=30), attribute_values, max_size=8)
spans_strategy = st.lists(
    st.builds(
        lambda attrs, span_id, start: span(attrs, span_id=span_id, start_ns=start, trace_id=os.urandom(16)),
        attribute_maps,
        st.integers(min_value=1, max_value=2**64 - 1),
        st.integers(min_value=0, max_value=2**63 - 10**9),
    ),
    max_size=5,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spans_strategy)
def test_protobuf_and_json_encodings_decode_to_the_same_spans(spans: list[object]) -> None:
    message = request(spans)  # type: ignore[arg-type]
    from_protobuf = list(flatten(parse(message.SerializeToString(), PROTOBUF), keep_content=True))
    from_json = list(flatten(parse(to_otlp_json(message), JSON), keep_content=True))
    assert from_protobuf == from_json
    assert [s.span_id for s in from_protobuf] == [s.span_id for s in spans]  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([PROTOBUF, JSON]))
def test_arbitrary_bytes_decode_or_raise_decode_error_only(body: bytes, media: str) -> None:
    try:
        message = parse(body, media)
    except DecodeError:
        return
    for decoded in flatten(message, keep_content=False):
        assert isinstance(decoded.attributes, dict)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=6000))
def test_gzip_never_yields_more_than_the_limit(payload: bytes, limit: int) -> None:
    try:
        out = decompress(gzip.compress(payload), "gzip", limit)
    except PayloadTooLarge:
        assert len(payload) > limit
        return
    assert out == payload


def test_deeply_nested_json_is_a_decode_error_not_a_crash() -> None:
    with pytest.raises(DecodeError):
        parse(b"[" * 100_000 + b"]" * 100_000, JSON)
    nested = '{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": '
    nested += '{"arrayValue": {"values": [' * 2000 + "]}}" * 2000 + "}]}]}]}]}"
    with pytest.raises(DecodeError):
        parse(nested.encode(), JSON)


_MAPPED_KEYS = ["gen_ai.request.model", "gen_ai.usage.input_tokens", "tiermix.final", "tiermix.routing_score"]
_ANY_VALUE = st.one_of(
    st.text(max_size=5),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=3), max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*_MAPPED_KEYS, "other.key", "tiermix.tag.x"]), _ANY_VALUE))
def test_the_usual_kind_shortcut_reads_exactly_what_the_sender_set(attributes: dict[str, object]) -> None:
    from tiermix_server.ingest.mapping import ATTRIBUTE_KEYS, ATTRIBUTE_KINDS, ATTRIBUTE_PREFIXES

    message = request([span(attributes)])
    (plain,) = flatten(message, keep_content=False, keys=ATTRIBUTE_KEYS, prefixes=ATTRIBUTE_PREFIXES)
    (fast,) = flatten(message, keep_content=False, kinds=ATTRIBUTE_KINDS, prefixes=ATTRIBUTE_PREFIXES)
    assert fast.attributes == plain.attributes
    for key, value in fast.attributes.items():  # an int where a string is usual stays an int, and so on
        assert type(value) is type(attributes[key])
    assert "other.key" not in fast.attributes
