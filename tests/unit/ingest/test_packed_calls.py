"""A decode worker's call rows stay the bytes it packed until something needs a row (ingest/processed.py).

The pipeline must store exactly what it would have stored from rows: the same rows and ``call_keys``,
a copy skipped, a second span merged into a packed call, the spool's record readable after a restart.
"""

from __future__ import annotations

import asyncio
import marshal
from pathlib import Path

import pytest

from tests.unit.ingest.builders import request, sdk_attributes, span
from tests.unit.ingest.test_pipeline import TENANT, MemoryWriter, make_pipeline, submit
from tests.unit.ingest.test_process import FixedEnricher, limits
from tiermix_server.ingest.handoff import pack, unpack
from tiermix_server.ingest.process import process
from tiermix_server.ingest.processed import Processed
from tiermix_server.ingest.spool import Spool
from tiermix_server.ingest.submission import key_rows
from tiermix_server.ingest.write import TS_INDEX, Batch


def decoded(*spans_attributes: dict[str, object]) -> Processed:
    message = request([span(attributes) for attributes in spans_attributes])
    return process(message, enricher=FixedEnricher(), limits=limits())


def through_a_worker(processed: Processed) -> Processed:
    return unpack(pack(processed))


def test_rows_stay_packed_until_one_is_asked_for_and_then_come_back_equal() -> None:
    inline = decoded(sdk_attributes(), sdk_attributes(**{"tiermix.tag.team": "cx"}), sdk_attributes())
    packed = through_a_worker(inline)

    assert packed.packed_calls is not None and packed.call_count == 3
    assert packed.starts() == [row[TS_INDEX] for row in inline.calls]  # read without the rows
    assert packed.packed_calls is not None  # still packed: counting and starts did not unpack
    assert packed.scopes == inline.scopes and packed.packed_calls is not None  # sources come apart
    assert packed.calls == inline.calls and all(type(row) is tuple for row in packed.calls)
    assert packed.packed_calls is None  # asked for a row: from now on the rows are the truth
    assert packed == inline


def test_a_replaced_row_list_replaces_the_packed_one() -> None:
    packed = through_a_worker(decoded(sdk_attributes(), sdk_attributes()))
    kept = packed.calls[:1]
    packed.calls = kept
    assert packed.call_count == 1 and packed.packed_calls is None and packed.starts() == [kept[0][TS_INDEX]]


async def test_packed_and_inline_requests_store_the_same_rows_and_keys(tmp_path: Path) -> None:
    requests = [decoded(sdk_attributes(), sdk_attributes()) for _ in range(3)]
    expected_rows = [row for processed in requests for row in processed.calls]
    expected_keys = [key for processed in requests for key in key_rows(processed.calls, processed.keys)]
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer)
    await pipeline.start()
    try:
        sent = [requests[0], through_a_worker(requests[1]), through_a_worker(requests[2])]
        await asyncio.gather(*(submit(pipeline, processed) for processed in sent))
    finally:
        await pipeline.stop()
    (batch,) = writer.batches.values()
    assert len(batch.packed_calls) == 2 and batch.packed_count == 4 and batch.call_count == 6
    assert sorted(batch.call_rows()) == sorted(expected_rows)
    assert sorted(batch.keys) == sorted(expected_keys)
    assert sum(p.outcomes[("acme", "accepted", "")] for p in sent) == 6


async def test_a_copy_of_a_packed_call_is_skipped_and_a_second_span_merged_into_it(tmp_path: Path) -> None:
    """The pending call is packed when the copy and the second span meet it: its row is rebuilt, merged,
    and the parked batch's record is written again with rows."""

    def one(response_id: str, **attributes: object) -> Processed:
        return decoded({**sdk_attributes(**attributes), "gen_ai.response.id": response_id})

    first = one("chatcmpl-9", **{"tiermix.tenant": None})  # names no tenant; the second span does
    copy = Processed(  # the same span again, as a client that retried sends it
        list(first.calls), [], list(first.keys), list(first.scopes), list(first.captures), [], +first.outcomes
    )
    second = one("chatcmpl-9")
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer, merge_window_s=1.0)
    await pipeline.start()
    try:
        await submit(pipeline, through_a_worker(first))  # parked: spooled with its rows packed
        (record,) = pipeline.spool.directory.glob("*.batch")
        assert record.read_bytes()[:4] == b"TMX2"
        copy, second = through_a_worker(copy), through_a_worker(second)
        await submit(pipeline, copy)
        await submit(pipeline, second)
    finally:
        await pipeline.stop()
    assert copy.outcomes[("default", "skipped", "duplicate")] == 1
    assert second.outcomes[("acme", "skipped", "same_call")] == 1
    (stored,) = [row for batch in writer.batches.values() for row in batch.call_rows()]
    assert stored[TENANT] == "acme"


def test_a_spooled_batch_with_packed_rows_reads_back_as_rows_after_a_restart(tmp_path: Path) -> None:
    rows = decoded(sdk_attributes(), sdk_attributes(), sdk_attributes()).calls
    with_packed = Batch("t-packed", rows[:1], [], [], packed_calls=[marshal.dumps(rows[1:])], packed_count=2)
    without = Batch("t-rows", rows, [], [])
    spool = Spool(tmp_path, 1 << 20)
    packed_path, rows_path = spool.append(with_packed), spool.append(without)
    assert packed_path.read_bytes()[:4] == b"TMX2"
    assert rows_path.read_bytes()[:4] == b"TMX1"  # what the releases before can read
    reopened = Spool(tmp_path, 1 << 20)
    assert reopened.read(packed_path) == Batch("t-packed", rows, [], [])
    assert reopened.read(rows_path) == without


def test_a_packed_record_whose_rows_do_not_add_up_is_quarantined(tmp_path: Path) -> None:
    rows = decoded(sdk_attributes(), sdk_attributes()).calls
    spool = Spool(tmp_path, 1 << 20)
    path = spool.append(Batch("t", [], [], [], packed_calls=[marshal.dumps(rows)], packed_count=3))
    assert spool.read(path) is None
    assert spool.corrupt_records == 1 and (tmp_path / "corrupt" / path.name).exists()


@pytest.mark.parametrize("packed", [False, True], ids=["rows", "packed"])
async def test_second_spans_merge_into_the_right_calls_of_a_pending_request(
    tmp_path: Path, packed: bool
) -> None:
    """The pending calls are found by key, then their row within the request (``Submission.row_of``)."""

    def spans(*response_ids: str, **attributes: object) -> Processed:
        out = decoded(*({**sdk_attributes(**attributes), "gen_ai.response.id": rid} for rid in response_ids))
        return through_a_worker(out) if packed else out

    first = spans("r-1", "r-2", "r-3", **{"tiermix.tenant": None})
    writer = MemoryWriter()
    pipeline = make_pipeline(tmp_path, writer, merge_window_s=1.0)
    await pipeline.start()
    try:
        await submit(pipeline, first)
        seconds = [spans("r-3"), spans("r-1")]
        for second in seconds:
            await submit(pipeline, second)
    finally:
        await pipeline.stop()
    stored = [row[TENANT] for batch in writer.batches.values() for row in batch.call_rows()]
    assert sorted(stored) == ["acme", "acme", "default"]
    assert [second.outcomes[("acme", "skipped", "same_call")] for second in seconds] == [1, 1]
