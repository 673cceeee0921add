"""The compiled call-key hash (``ingest/_call_key.c``) against its definition, ``identity.python_key``.

Keys are stored in ``call_keys``: a compiled hash that differed anywhere would make calls stored before
it look new, so it is held to hashlib on every length around BLAKE2b's 128-byte blocks, any bytes and
any 64-bit number.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiermix_server.ingest import identity
from tiermix_server.ingest.identity import Member, call_keys, python_key

try:
    from tiermix_server.ingest._call_key import key as compiled_key
except ImportError:
    # scripts/test.sh installs a C compiler and builds the extensions, and says so: there, its absence fails.
    if os.environ.get("TIERMIX_EXPECT_COMPILED") == "1":
        raise AssertionError("the compiled call-key hash was not built (ingest/_call_key.c)") from None
    pytest.skip("the compiled call-key hash is not built in this install", allow_module_level=True)

parts_strategy = st.lists(st.binary(max_size=300) | st.integers(min_value=0, max_value=2**64 - 1), max_size=6)


def by_hashlib(*parts: bytes | int) -> int:
    """The key as the first stored ``call_keys`` were made: written out here, not through the module."""
    joined = b"\x1f".join(b"%d" % part if isinstance(part, int) else part for part in parts)
    return int.from_bytes(hashlib.blake2b(joined, digest_size=8).digest(), "big") or 1


def test_the_collector_hashes_keys_in_c() -> None:
    assert identity.COMPILED_KEYS and identity._key is compiled_key


@given(parts_strategy)
def test_any_parts_hash_as_hashlib_does(parts: list[bytes | int]) -> None:
    assert compiled_key(*parts) == python_key(*parts) == by_hashlib(*parts)


@pytest.mark.parametrize("size", [0, 1, 110, 126, 127, 128, 129, 255, 256, 257, 383, 384, 385, 1000, 70_000])
def test_every_length_around_the_block_size(size: int) -> None:
    # One part of ``size`` bytes, and the same bytes as two parts with the separator between them.
    data = os.urandom(size)
    assert compiled_key(data) == by_hashlib(data)
    assert compiled_key(b"s", data, b"x" * (size % 7)) == by_hashlib(b"s", data, b"x" * (size % 7))


def test_numbers_are_written_in_decimal() -> None:
    for number in (0, 1, 9, 10, 2**63 - 1, 2**63, 2**64 - 1):
        assert compiled_key(b"s", number) == by_hashlib(b"s", str(number).encode())


def test_no_parts_hash_the_empty_message() -> None:
    assert compiled_key() == by_hashlib()


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_numbers_outside_64_bits_are_refused(bad: int) -> None:
    with pytest.raises(OverflowError):
        compiled_key(b"s", bad)


@pytest.mark.parametrize("bad", ["text", 1.0, True, None, bytearray(b"x"), memoryview(b"x")])
def test_other_types_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        compiled_key(b"s", bad)  # type: ignore[arg-type]


def test_call_keys_are_the_definitions_keys() -> None:
    """A whole call's keys, trusted and not, with a parent and a response id, as ``python_key`` makes them."""
    trace = os.urandom(16)
    members = [Member(2**64 - 1, 7), Member(12345, 0)]
    for trusted in (False, True):
        keys = call_keys("acme", trace, members, "openai", "chatcmpl-1", trusted=trusted)
        scope = b"\xfftrusted" if trusted else b"acme"
        assert keys.store == (
            by_hashlib(b"s", scope, trace, 2**64 - 1),
            by_hashlib(b"c", scope, trace, 7),
            by_hashlib(b"s", scope, trace, 12345),
            by_hashlib(b"r", scope, b"openai", b"chatcmpl-1"),
        )
