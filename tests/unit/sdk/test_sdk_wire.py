"""The SDK's protobuf writer (export/wire.py) writes exactly the bytes the protobuf classes write."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from tiermix.export import wire

values = (
    st.text(max_size=40)
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.lists(st.text(max_size=8), min_size=1, max_size=4)
)


def reference(key: str, value: object) -> bytes:
    """The same attribute through the protobuf classes, as the SDK built it before wire.py."""
    kv = KeyValue(key=key)
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    elif isinstance(value, str):
        kv.value.string_value = value
    else:
        assert isinstance(value, list)
        for item in value:
            kv.value.array_value.values.add().string_value = item
    return bytes(kv.SerializeToString())


@settings(max_examples=500, deadline=None)
@given(key=st.text(min_size=1, max_size=30), value=values)
def test_an_attribute_is_written_byte_for_byte_as_protobuf_writes_it(key: str, value: object) -> None:
    assert wire.key_value(key, value) == reference(key, value)


def test_varints_cover_the_int64_range() -> None:
    for value in (0, 1, 127, 128, 300, 2**31, 2**63 - 1, -1, -(2**63)):
        assert wire.varint(value) == reference("k", value)[6:], value  # after the tags, key and length
    assert math.isinf(KeyValue.FromString(wire.key_value("k", math.inf)).value.double_value)


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(["a", "b", "tiermix.final"]), values), max_size=6))
@example(pairs=[("a", -0.0), ("a", 0.0)])  # equal as keys, different bytes (found by this test)
@example(pairs=[("a", True), ("a", 1), ("a", 1.0)])
def test_span_attributes_from_the_cache_are_the_bytes_written_afresh(pairs: list[tuple[str, object]]) -> None:
    fresh = b"".join(wire.field(b"\x4a", reference(key, value)) for key, value in pairs)
    assert wire.span_attributes(pairs) == fresh
    assert wire.span_attributes(pairs) == fresh  # the second time, from the cache (True is not 1)
