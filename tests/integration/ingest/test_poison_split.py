"""The writer's last line of defence: rows ClickHouse refuses on their own are set aside, the rest stored.

Validation keeps values inside their columns, so these rows are built by hand, past it, as a bug in a
future mapping would build them.
"""

from __future__ import annotations

import marshal
import time
from pathlib import Path
from typing import Any

import pytest

from tiermix_server.ingest.spool import Spool
from tiermix_server.ingest.write import LLM_CALLS_COLUMNS, Batch, ClickHouseWriter

REQUEST_ID = LLM_CALLS_COLUMNS.index("request_id")
SPAN_ID = LLM_CALLS_COLUMNS.index("span_id")


def call_row(span_id: int) -> tuple[Any, ...]:
    values: dict[str, Any] = dict.fromkeys(LLM_CALLS_COLUMNS, "")
    values.update(
        ts=time.time_ns() // 1000,
        duration_ms=1.0,
        ttft_ms=None,
        trace_id=b"t" * 16,
        span_id=span_id,
        parent_span_id=0,
        request_id=span_id,
        attempt=0,
        final=True,
        escalated=False,
        failover=False,
        routing_score=None,
        input_tokens=1,
        output_tokens=1,
        cache_read_tokens=0,
        cache_write_tokens=0,
        reasoning_tokens=0,
        cost_usd=0.0,
        unpriced=True,
        status="ok",
        tenant="acme",
        tags={},
    )
    return tuple(values[column] for column in LLM_CALLS_COLUMNS)


@pytest.fixture
def writer(make_settings: Any) -> Any:
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = make_settings()
    client = connect(settings)
    migrate(client, settings)
    return ClickHouseWriter(client), client


def test_a_row_clickhouse_refuses_is_set_aside_and_the_batch_is_stored(writer: Any) -> None:
    ch_writer, client = writer
    rows = [call_row(span_id) for span_id in range(1, 11)]
    poison = list(rows[6])
    poison[REQUEST_ID] = -1  # UInt64 cannot hold it
    rows[6] = tuple(poison)
    refused = ch_writer.write(Batch("poison-batch", rows, [], []))
    assert [
        (item.table, [row[LLM_CALLS_COLUMNS.index("span_id")] for row in item.rows]) for item in refused
    ] == [("llm_calls", [7])]
    assert "request_id" in refused[0].error
    assert client.query("SELECT count() FROM llm_calls").result_rows[0][0] == 9
    assert client.query("SELECT sum(calls) FROM llm_calls_1h").result_rows[0][0] == 9
    # A replay of the same batch (a crash before its spool record was removed) splits the same way.
    ch_writer.write(Batch("poison-batch", rows, [], []))
    assert client.query("SELECT sum(calls) FROM llm_calls_1h").result_rows[0][0] == 9


def test_packed_rows_are_split_and_replayed_from_the_spool_the_same_way(writer: Any, tmp_path: Path) -> None:
    """Rows a decode worker packed (``Batch.packed_calls``) are inserted, split and replayed as rows are:
    the spool's record holds them as bytes and gives them back in the order the first insert sent."""
    ch_writer, client = writer
    rows = [call_row(span_id) for span_id in range(1, 11)]
    poison = list(rows[6])
    poison[REQUEST_ID] = -1
    rows[6] = tuple(poison)
    packed = [marshal.dumps(rows[3:6]), marshal.dumps(rows[6:])]
    batch = Batch("packed-poison", rows[:3], [], [], packed_calls=packed, packed_count=7)
    spool = Spool(tmp_path, 1 << 20)
    record = spool.append(batch)
    refused = ch_writer.write(batch)
    assert [[row[SPAN_ID] for row in item.rows] for item in refused] == [[7]]
    assert client.query("SELECT count(), sum(span_id) FROM llm_calls").result_rows == [(9, 55 - 7)]
    replayed = spool.read(record)  # a crash before the record was removed
    assert replayed is not None and replayed.calls == rows and not replayed.packed_calls
    ch_writer.write(replayed)
    assert client.query("SELECT sum(calls) FROM llm_calls_1h").result_rows[0][0] == 9


def test_a_missing_table_is_an_outage_not_poison(writer: Any) -> None:
    ch_writer, client = writer
    client.command("DETACH TABLE llm_calls")
    try:
        with pytest.raises(Exception, match=r"UNKNOWN_TABLE|does not exist"):
            ch_writer.write(Batch("outage-batch", [call_row(1), call_row(2)], [], []))
    finally:
        client.command("ATTACH TABLE llm_calls")
