"""The in-engine call generator the benchmarks use keeps every call inside the range it was given."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.support.calls import ENGINE_CALLS_PER_REQUEST, ENGINE_TS_SQL, generate_in_engine

END = datetime(2026, 11, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(("calls", "days"), [(50_000_000, 7), (200_000_000, 90)])
def test_the_last_request_of_a_large_run_starts_inside_the_range(
    clickhouse: Any, calls: int, days: int
) -> None:
    # The benchmark sizes themselves, without generating them: the first and last requests' timestamps.
    # Before the Int128 product the last one wrapped past Int64: 50M over 7 days put it 1.2 days after
    # the start, 200M over 90 days before the start.
    start = END - timedelta(days=days)
    requests = int(calls / ENGINE_CALLS_PER_REQUEST)
    span_us = int((END - start).total_seconds() * 1_000_000) - 5_000_000
    [(first, last)] = clickhouse.query(
        f"SELECT min(ts), max(ts) FROM (SELECT {ENGINE_TS_SQL} AS ts FROM "
        "(SELECT arrayJoin([toUInt64(0), toUInt64({last_q:UInt64})]) AS q, 0 AS k))",
        parameters={"start_us": int(start.timestamp() * 1_000_000), "span_us": span_us,
                    "requests": requests, "last_q": requests - 1},
    ).result_rows  # fmt: skip
    assert first.replace(tzinfo=timezone.utc) == start
    assert END - timedelta(minutes=1) < last.replace(tzinfo=timezone.utc) < END


def test_a_generated_week_is_all_inside_the_week(clickhouse: Any) -> None:
    start = END - timedelta(days=7)
    generate_in_engine(clickhouse, 20_000, start, END)
    [(count, first, last)] = clickhouse.query("SELECT count(), min(ts), max(ts) FROM llm_calls").result_rows
    assert 18_000 < count < 22_000
    assert start <= first.replace(tzinfo=timezone.utc) and last.replace(tzinfo=timezone.utc) < END
