"""The spool keeps whole records across restarts; the resend filter stays bounded."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from tiermix_server.ingest.identity import CallKeys, Member, call_keys, child_key, response_key, span_key
from tiermix_server.ingest.recent import CLOCK_SKEW_S, RecentKeys
from tiermix_server.ingest.spool import Spool
from tiermix_server.ingest.write import Batch

ROW = (1_700_000_000_000_000, 12.5, None, b"\x01" * 16, 42, 0, 42, 0, True, False, False, "", "", "acme")


def batch(token: str) -> Batch:
    return Batch(
        token, [ROW], [(1, 2, 3, "acme", "svc", "prod", "queue_full", 5)], [(60, "acme", "accepted", "", 1)]
    )


def test_records_survive_a_restart_in_order_with_their_tokens(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append(batch("a"))
    spool.append(batch("b"))
    reopened = Spool(tmp_path, 1 << 20)
    assert reopened.size_bytes == spool.size_bytes > 0
    assert [reopened.read(path).token for path in reopened.records()] == ["a", "b"]  # type: ignore[union-attr]
    assert reopened.read(reopened.records()[0]) == batch("a")
    reopened.append(batch("c"))
    assert [p.name.split("-", 1)[1] for p in reopened.records()] == ["a.batch", "b.batch", "c.batch"]


def test_removing_records_frees_the_budget(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    path = spool.append(batch("a"))
    size = spool.size_bytes
    assert not spool.has_room((1 << 20) - size + 1)
    spool.remove(path)
    assert spool.size_bytes == 0 and spool.records() == []


def test_a_corrupt_record_is_quarantined_not_replayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    path = spool.append(batch("a"))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert spool.read(path) is None
    assert spool.records() == []
    assert (tmp_path / "corrupt" / path.name).exists()


def test_unfinished_temporary_files_are_discarded_on_open(tmp_path: Path) -> None:
    (tmp_path / "0000000000000001-x.tmp").write_bytes(b"partial")
    Spool(tmp_path, 1 << 20)
    assert list(tmp_path.glob("*.tmp")) == []


def keys(*values: int) -> list[CallKeys]:
    return [CallKeys(lookup=(value,), store=(value,)) for value in values]


async def test_recent_keys_rotate_generations_by_count() -> None:
    recent = RecentKeys(max_keys=3, window_s=1e9)
    recent.seed(range(10))
    assert len(recent) <= 6
    owner: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    keep, waits = recent.claim(keys(9, 0, 100, 100), owner)
    assert keep == [False, True, True, False] and waits == set()


async def test_recent_keys_are_kept_for_the_window_and_then_forgotten() -> None:
    now = [0.0]
    recent = RecentKeys(max_keys=100, window_s=10, clock=lambda: now[0])
    recent.seed([1])
    now[0] = 5
    recent.seed([2])
    now[0] = 12
    recent.seed([3])  # key 1 is 12 s old: past the window; key 2, 7 s old, is not
    owner: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    keep, _ = recent.claim(keys(1, 2, 3), owner)
    assert keep == [True, False, False]


async def test_every_key_stored_within_the_window_and_the_budget_is_found_and_no_other() -> None:
    """Sealed arrays, merges and the hot set together answer exactly what a plain set would."""
    rng = random.Random(7)
    now = [0.0]
    recent = RecentKeys(max_keys=4096, window_s=1e9, clock=lambda: now[0])
    stored: list[int] = []
    for _ in range(300):
        batch = [rng.getrandbits(64) or 1 for _ in range(rng.randint(1, 40))]
        recent.seed(batch)
        stored += batch
        now[0] += rng.random() * 1e6  # many slices of the window: generations are sealed and merged
    assert 4096 - 4096 // 8 <= len(recent) <= 4096  # the oldest generations dropped whole, to the budget
    owner: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    newest = stored[-len(recent) :]
    never = [rng.getrandbits(64) | 1 for _ in range(2000)]
    keep, _ = recent.claim(keys(*newest, *never), owner)
    assert keep == [False] * len(newest) + [True] * len(never)


def test_memory_still_covers_the_skew_margin_at_fifty_thousand_calls_a_second() -> None:
    """Three keys a call at 50,000 calls/s: memory must still answer for calls a few seconds old.

    The two generations of 500,000 keys it replaced rotated every 3.3 s at this rate, so memory never
    covered more than the clock-skew margin and every request was looked up in ClickHouse.
    """
    now = [1000.0]
    recent = RecentKeys(clock=lambda: now[0])
    per_settle = 3 * 50_000 // 10  # a batch every 100 ms
    next_key = 1
    for _ in range(10 * 60):  # a minute of traffic
        now[0] += 0.1
        recent.seed(range(next_key, next_key + per_settle))
        next_key += per_settle
    assert recent.covers(now[0] - 5.0)  # a call exported 5 s after it started
    assert len(recent) <= 8_000_000


def test_memory_covers_only_calls_it_watched_being_stored() -> None:
    now = [1000.0]
    recent = RecentKeys(max_keys=100, window_s=10, clock=lambda: now[0])
    assert not recent.covers(999.0)  # started before this process: ask ClickHouse
    assert recent.covers(1000.0 + CLOCK_SKEW_S)
    now[0] = 1011.0
    recent.seed([1])  # rotation: the first generation is still in memory as "previous"
    assert recent.covers(1000.0 + CLOCK_SKEW_S)
    now[0] = 1022.0
    recent.seed([2])  # second rotation: what was stored before 1011 is forgotten
    assert not recent.covers(1010.0 + CLOCK_SKEW_S)
    assert recent.covers(1011.0 + CLOCK_SKEW_S)


def test_with_replicas_memory_covers_nothing_and_every_batch_is_checked_in_storage() -> None:
    recent = RecentKeys(clock=lambda: 1000.0, alone=False)
    assert not recent.covers(1e12)  # another replica may have stored it: ask ClickHouse


def test_a_record_that_cannot_be_written_whole_leaves_no_temporary_file(tmp_path: Path) -> None:
    import errno
    import os

    import pytest

    spool = Spool(tmp_path, 1 << 20)

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", disk_full)
        with pytest.raises(OSError):
            spool.append(batch("full"))
    assert list(tmp_path.glob("*.tmp")) == [] and spool.records() == []
    assert spool.size_bytes == 0
    spool.append(batch("after"))  # the spool still works once the disk has room
    assert len(spool.records()) == 1


def test_files_that_are_not_records_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.batch").write_text("an operator's note")
    (tmp_path / "README").write_text("hello")
    spool = Spool(tmp_path, 1 << 20)
    assert spool.records() == []
    spool.append(batch("a"))
    assert [path.name.endswith("-a.batch") for path in spool.records()] == [True]
    assert (tmp_path / "notes.batch").exists()


async def test_a_call_in_flight_waits_for_its_first_copy_and_one_request_claims_a_key_once() -> None:
    recent = RecentKeys()
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    assert recent.claim(keys(1, 2, 1), first) == ([True, True, False], set())  # the repeat in one request
    assert recent.claim(keys(3, 2), second) == ([True, False], {first})  # 2 is the first request's
    recent.settle(keys(1, 2), durable=False)  # the first batch failed: its claim is forgotten
    assert recent.claim(keys(2), second) == ([True], set())
    recent.settle(keys(2, 3), durable=True)
    assert recent.claim(keys(2, 3, 4), first) == ([False, False, True], set())


def test_call_keys_keep_the_digests_stored_call_keys_were_made_with() -> None:
    # Stored keys must keep matching across versions: these values come from the release before the
    # hash was computed over one joined string.
    assert span_key("tenant-ä", b"\x00" * 16, 12345678901234567890) == 6711560366434481952
    assert child_key("t", b"ab" * 8, 0) == 8754172220787850490
    assert response_key("t", "openai", "chatcmpl-ß1") == 13909160074683784086
    # ``call_keys`` inlines the same layout: a tenant-bound key's call keeps exactly these keys, and a
    # trusted sender's call still looks up its span and response id among them.
    trace, tenant = b"ab" * 8, "tenant-ä"
    members = [Member(12345678901234567890, 42)]
    bound = call_keys(tenant, trace, members, "openai", "chatcmpl-ß1")
    own, response = span_key(tenant, trace, members[0].span_id), response_key(tenant, "openai", "chatcmpl-ß1")
    assert bound.lookup == (
        own,
        child_key(tenant, trace, members[0].span_id),
        span_key(tenant, trace, 42),
        response,
    )
    assert bound.store == (own, child_key(tenant, trace, 42), response)
    trusted = call_keys(tenant, trace, members, "openai", "chatcmpl-ß1", trusted=True)
    assert trusted.lookup[-2:] == (own, response) and set(trusted.store).isdisjoint(bound.lookup)


async def test_what_memory_held_is_taken_back_whole_by_the_next_process() -> None:
    """``snapshot`` then ``restore``: the same keys found, the same coverage, and the window still ends
    where it did (a restored generation is dropped when its last key is window_s old)."""
    now = [1000.0]
    first = RecentKeys(max_keys=64, window_s=100, clock=lambda: now[0])
    for step in range(10):
        now[0] += 5
        first.seed(range(step * 5, step * 5 + 5))  # 50 keys: several sealed generations and a hot set
    covered_since, generations = first.snapshot()
    assert covered_since == 1000.0 and sum(len(g.keys) for g in generations) == 50
    now[0] += 20  # the restart
    second = RecentKeys(max_keys=64, window_s=100, clock=lambda: now[0])
    assert not second.covers(1000.0 + CLOCK_SKEW_S)
    second.restore(covered_since, generations)
    second.seed([500])  # stored by the new process
    assert second.covers(1000.0 + CLOCK_SKEW_S) and len(second) == 51
    owner: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    keep, _ = second.claim(keys(0, 49, 500, 50), owner)
    assert keep == [False, False, False, True]
    now[0] = 1050.0 + 100 + 1  # the last restored key was stored at 1050: every restored one is expired
    second.seed([501])
    keep, _ = second.claim(keys(0, 49, 500), owner)
    assert keep == [True, True, False]
    assert not second.covers(1049.0 + CLOCK_SKEW_S) and second.covers(1050.0 + CLOCK_SKEW_S)
