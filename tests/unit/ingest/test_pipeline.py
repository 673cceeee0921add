"""The pipeline's promises, driven through its writer seam (``CallWriter``) with an in-memory writer."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tiermix_server.ingest.identity import CallKeys, span_key
from tiermix_server.ingest.pipeline import Pipeline, PipelineConfig, QueueFull, SpoolFull
from tiermix_server.ingest.processed import ACCEPTED, Processed
from tiermix_server.ingest.recent import RecentKeys
from tiermix_server.ingest.spool import Spool
from tiermix_server.ingest.stats import IngestStats
from tiermix_server.ingest.write import LLM_CALLS_COLUMNS, Batch, Refused

TENANT = LLM_CALLS_COLUMNS.index("tenant")
SPAN = LLM_CALLS_COLUMNS.index("span_id")
TS = LLM_CALLS_COLUMNS.index("ts")


class MemoryWriter:
    """Stores batches like ClickHouse with insert tokens: a token seen before is not stored again."""

    def __init__(self) -> None:
        self.batches: dict[str, Batch] = {}
        self.failing = False
        self.gate = threading.Event()
        self.gate.set()

    def write(self, batch: Batch) -> list[Refused]:
        self.gate.wait(10)
        if self.failing:
            raise ConnectionError("ClickHouse is down")
        self.batches.setdefault(batch.token, batch)
        return []

    def known_keys(self, keys: list[int]) -> set[int]:
        if self.failing:
            raise ConnectionError("ClickHouse is down")
        stored = {key for batch in self.batches.values() for key, _ts in batch.keys}
        return stored.intersection(keys)

    def ping(self) -> None:
        if self.failing:
            raise ConnectionError("ClickHouse is down")

    def span_ids(self) -> list[int]:
        return [row[SPAN] for batch in self.batches.values() for row in batch.call_rows()]


def calls(*span_ids: int, tenant: str = "acme") -> Processed:
    out = Processed()
    for span_id in span_ids:
        row = [None] * len(LLM_CALLS_COLUMNS)
        row[SPAN], row[TENANT], row[TS] = span_id, tenant, time.time_ns() // 1000
        out.calls.append(tuple(row))
        key = span_key(tenant, b"\x00" * 16, span_id)  # unsigned 64-bit, as call_keys stores them
        out.keys.append(CallKeys(lookup=(key,), store=(key,)))
        out.scopes.append(("test", "test"))
        out.captures.append(None)
        out.outcomes[(tenant, ACCEPTED, "")] += 1
    return out


async def submit(pipeline: Pipeline, processed: Processed) -> None:
    """As the receiver does: admitted first, released once answered."""
    pipeline.admit(100)
    try:
        await pipeline.submit(processed)
    finally:
        pipeline.release(100)


def make_pipeline(tmp_path: Path, writer: MemoryWriter, **config: object) -> Pipeline:
    options: dict[str, object] = {"batch_max_delay_s": 0.01, "drain_backoff_s": (0.01, 0.05)}
    options.update(config)
    return Pipeline(
        writer=writer,
        spool=Spool(tmp_path / "spool", int(options.pop("spool_max_bytes", 1 << 30))),  # type: ignore[call-overload]
        stats=IngestStats(),
        recent=RecentKeys(),
        config=PipelineConfig(**options),  # type: ignore[arg-type]
    )


async def test_submit_returns_once_the_batch_is_written(tmp_path: Path) -> None:
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer)
    await pipeline.start()
    try:
        await asyncio.gather(submit(pipeline, calls(1, 2)), submit(pipeline, calls(3)))
        assert sorted(writer.span_ids()) == [1, 2, 3]
        assert len(writer.batches) == 1  # concurrent requests share one insert (group commit)
        (batch,) = writer.batches.values()
        assert batch.stats[0][1:] == ("acme", "accepted", "", 3)
    finally:
        await pipeline.stop()


async def test_batches_are_closed_at_max_rows(tmp_path: Path) -> None:
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer, batch_max_rows=2, batch_max_delay_s=5.0)
    await pipeline.start()
    pipeline.admit(100)  # a slow request still on its way: only the row bound closes batches
    try:
        await asyncio.wait_for(asyncio.gather(*(submit(pipeline, calls(i)) for i in range(1, 5))), 3)
        assert sorted(b.call_count for b in writer.batches.values()) == [2, 2]
    finally:
        await pipeline.stop()


async def test_failed_writes_are_spooled_acknowledged_and_drained_once_storage_returns(
    tmp_path: Path,
) -> None:
    writer = MemoryWriter()
    writer.failing = True
    pipeline = make_pipeline(tmp_path, writer)
    await pipeline.start()
    try:
        await submit(pipeline, calls(1, 2))
        await submit(pipeline, calls(3))
        assert writer.span_ids() == []
        assert len(pipeline.spool.records()) >= 1
        assert pipeline.readiness()[0] is False
        writer.failing = False
        for _ in range(200):
            if not pipeline.spool.records() and pipeline.storage_up:
                break
            await asyncio.sleep(0.01)
        assert sorted(writer.span_ids()) == [1, 2, 3]
        assert pipeline.spool.size_bytes == 0
        assert pipeline.readiness() == (True, "ok")
    finally:
        await pipeline.stop()


async def test_spool_left_by_a_previous_process_is_drained_at_start(tmp_path: Path) -> None:
    writer = MemoryWriter()
    spool = Spool(tmp_path / "spool", 1 << 30)
    spool.append(Batch("tok-1", list(calls(7).calls), [], []))
    pipeline = make_pipeline(tmp_path, writer)
    await pipeline.start()
    try:
        for _ in range(200):
            if writer.span_ids():
                break
            await asyncio.sleep(0.01)
        assert writer.span_ids() == [7]
        assert list(writer.batches) == ["tok-1"]  # replayed under its first token
    finally:
        await pipeline.stop()


async def test_storage_down_and_spool_full_answers_503(tmp_path: Path) -> None:
    writer = MemoryWriter()
    writer.failing = True
    pipeline = make_pipeline(tmp_path, writer, spool_max_bytes=200)
    await pipeline.start()
    try:
        with pytest.raises(SpoolFull) as raised:
            await submit(pipeline, calls(*range(1, 50)))
        assert raised.value.http_status == 503 and raised.value.retry_after_s > 0
        with pytest.raises(SpoolFull):
            pipeline.admit(1000)
    finally:
        await pipeline.stop()


async def test_full_queue_answers_429_with_retry_after(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, MemoryWriter(), queue_max_requests=2, queue_max_bytes=1 << 20)
    pipeline.admit(10, "a")
    pipeline.admit(10, "b")
    with pytest.raises(QueueFull) as raised:
        pipeline.admit(10, "c")
    assert raised.value.http_status == 429 and raised.value.retry_after_s > 0
    pipeline.release(10, "a")
    pipeline.admit(10, "c")


async def test_one_sender_cannot_take_more_than_its_share_of_the_queue(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, MemoryWriter(), queue_max_requests=8, queue_max_bytes=1 << 20)
    for _ in range(4):
        pipeline.admit(10, "noisy")
    with pytest.raises(QueueFull, match="share"):
        pipeline.admit(10, "noisy")  # half of 8 requests is its share
    for _ in range(4):
        pipeline.admit(10, "quiet")  # the others still have their room
    pipeline.release(10, "noisy")
    pipeline.admit(10, "noisy")
    big = make_pipeline(tmp_path / "b", MemoryWriter(), queue_max_requests=8, queue_max_bytes=1 << 20)
    big.admit(400_000, "noisy")
    with pytest.raises(QueueFull, match="share"):
        big.admit(200_000, "noisy")  # half of the bytes too
    big.admit(200_000, "quiet")


async def test_queue_is_bounded_by_bytes_too(tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, MemoryWriter(), queue_max_bytes=1 << 20)
    pipeline.admit(900_000)
    with pytest.raises(QueueFull):
        pipeline.admit(200_000)


async def test_resent_span_is_stored_once_even_in_another_request(tmp_path: Path) -> None:
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer)
    await pipeline.start()
    try:
        await submit(pipeline, calls(1, 2))
        resent = calls(2, 3)
        await submit(pipeline, resent)
        assert sorted(writer.span_ids()) == [1, 2, 3]
        assert resent.outcomes[("acme", "skipped", "duplicate")] == 1
        assert resent.outcomes[("acme", "accepted", "")] == 1
    finally:
        await pipeline.stop()


async def test_resend_while_first_copy_is_in_flight_waits_for_it_and_fails_with_it(tmp_path: Path) -> None:
    writer = MemoryWriter()
    writer.gate.clear()
    writer.failing = True
    pipeline = make_pipeline(tmp_path, writer, spool_max_bytes=10)  # nothing fits: failures surface
    await pipeline.start()
    try:
        first = asyncio.create_task(submit(pipeline, calls(5)))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(submit(pipeline, calls(5)))
        await asyncio.sleep(0.05)
        assert not second.done()  # not acknowledged on the strength of an undurable copy
        writer.gate.set()
        results = await asyncio.gather(first, second, return_exceptions=True)
        assert all(isinstance(result, SpoolFull) for result in results)
        writer.failing = False
        for _ in range(200):  # the drainer's probe notices storage is back
            if pipeline.storage_up:
                break
            await asyncio.sleep(0.01)
        await submit(pipeline, calls(5))  # the failed claim was released: a retry is stored
        assert writer.span_ids() == [5]
    finally:
        await pipeline.stop()


async def test_stop_flushes_pending_requests(tmp_path: Path) -> None:
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer, batch_max_delay_s=30.0)
    await pipeline.start()
    pipeline.admit(100)  # another request on its way keeps the batch open
    task = asyncio.create_task(submit(pipeline, calls(9)))
    await asyncio.sleep(0.02)
    assert not task.done()
    await pipeline.stop()
    await task
    assert writer.span_ids() == [9]


async def test_batch_closes_without_waiting_when_every_request_is_in_it(tmp_path: Path) -> None:
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer, batch_max_delay_s=30.0, batch_min_delay_s=0.0)
    await pipeline.start()
    try:
        await asyncio.wait_for(asyncio.gather(submit(pipeline, calls(1)), submit(pipeline, calls(2))), 5)
        assert sorted(writer.span_ids()) == [1, 2]
    finally:
        await pipeline.stop()


async def test_another_senders_request_joins_a_batch_within_its_min_delay(tmp_path: Path) -> None:
    """Each insert has a fixed cost in ClickHouse: a batch whose sender waits alone in it still waits
    ``batch_min_delay_s``, and a request from elsewhere arriving meanwhile shares its insert."""
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer, batch_max_delay_s=30.0, batch_min_delay_s=0.5)
    await pipeline.start()
    try:
        first = asyncio.create_task(submit(pipeline, calls(1)))
        await asyncio.sleep(0.1)  # the first request waits alone in the batch
        await asyncio.wait_for(asyncio.gather(first, submit(pipeline, calls(2))), 5)
        assert [sorted(row[SPAN] for row in b.call_rows()) for b in writer.batches.values()] == [[1, 2]]
    finally:
        await pipeline.stop()


@pytest.mark.parametrize(
    ("bound", "requests"),
    [
        ({"batch_max_rows": 10}, [(1, 2)]),  # a fifth of batch_max_rows: two rows
        ({"queue_max_requests": 8}, [(1,), (2,)]),  # a quarter of the queue: two requests
    ],
    ids=["rows", "requests"],
)
async def test_a_batch_big_enough_does_not_wait_for_the_min_delay(
    tmp_path: Path, bound: dict[str, int], requests: list[tuple[int, ...]]
) -> None:
    """The wait is for small requests: a batch that already spreads an insert's cost is written."""
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer, batch_max_delay_s=60.0, batch_min_delay_s=30.0, **bound)
    await pipeline.start()
    try:
        await asyncio.wait_for(asyncio.gather(*(submit(pipeline, calls(*ids)) for ids in requests)), 5)
        assert sorted(writer.span_ids()) == [1, 2]
    finally:
        await pipeline.stop()


async def test_outcome_counts_reach_the_stats_rows(tmp_path: Path) -> None:
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer)
    await pipeline.start()
    try:
        processed = calls(1)
        processed.outcomes[("acme", "rejected", "negative_tokens")] += 2
        processed.outcomes[("globex", "skipped", "not_llm")] += 3
        await submit(pipeline, processed)
        (batch,) = writer.batches.values()
        assert Counter({row[1:4]: row[4] for row in batch.stats}) == Counter(
            {
                ("acme", "accepted", ""): 1,
                ("acme", "rejected", "negative_tokens"): 2,
                ("globex", "skipped", "not_llm"): 3,
            }
        )
    finally:
        await pipeline.stop()


async def test_spans_merged_together_into_a_parked_call_share_one_rewrite_of_its_batch(
    tmp_path: Path,
) -> None:
    """Each merge makes the parked batch durable again before its request is answered; merges made before
    a rewrite starts share it. One rewrite per merging request made 21 here, after the first spooling."""
    from tests.unit.ingest.builders import request, sdk_attributes, span
    from tests.unit.ingest.test_process import FixedEnricher, limits
    from tiermix_server.ingest.process import process

    def one(response_id: str, **attributes: object) -> Processed:
        message = request([span({**sdk_attributes(**attributes), "gen_ai.response.id": response_id})])
        return process(message, enricher=FixedEnricher(), limits=limits())

    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer, merge_window_s=2.0)
    rewrites = 0
    append = pipeline.spool.append

    def counted(*args: object, **kwargs: object) -> Path:
        nonlocal rewrites
        rewrites += 1
        return append(*args, **kwargs)  # type: ignore[arg-type]

    pipeline.spool.append = counted  # type: ignore[method-assign]
    await pipeline.start()
    try:
        await submit(pipeline, one("chatcmpl-1", **{"tiermix.tenant": None}))  # parked: it has a response id
        assert rewrites == 1 and not writer.batches  # its insert waits for the merge window
        merges = [one("chatcmpl-1") for _ in range(20)]
        await asyncio.gather(*(submit(pipeline, processed) for processed in merges))
        assert 2 <= rewrites <= 6, rewrites  # not one for each merge: the merges share a few rewrites
        assert sum(p.outcomes[("acme", "skipped", "same_call")] for p in merges) == 20
    finally:
        await pipeline.stop()
    (stored,) = [row for batch in writer.batches.values() for row in batch.call_rows()]
    assert stored[TENANT] == "acme"  # the merged spans named the tenant the first one did not
