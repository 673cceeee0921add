"""A range is cut into raw / per-minute / per-hour / per-day segments that cover it exactly, coarsest where
aligned."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from tiermix_server.metrics.sources import DAY_S, HOUR_S, MINUTE_S, plan_segments

BASE = datetime(2026, 11, 23, tzinfo=timezone.utc)
OFFSETS = st.integers(min_value=0, max_value=5 * 86400 * 1_000_000).map(
    lambda us: BASE + timedelta(microseconds=us)
)
STEP = {"llm_calls_1d": 86400, "llm_calls_1h": 3600, "llm_calls_1m": 60}


@given(OFFSETS, OFFSETS, st.sampled_from([0, MINUTE_S, HOUR_S, DAY_S]))
def test_segments_tile_the_range_without_gaps_or_overlap(a: datetime, b: datetime, max_step_s: int) -> None:
    start, end = min(a, b), max(a, b)
    segments = plan_segments(start, end, max_step_s)
    if start == end:
        assert segments == []
        return
    assert segments[0].start == start and segments[-1].end == end
    for left, right in itertools.pairwise(segments):
        assert left.end == right.start
    assert all(s.start < s.end for s in segments)
    assert len(segments) <= 7


@given(OFFSETS, OFFSETS, st.sampled_from([0, MINUTE_S, HOUR_S, DAY_S]))
def test_rollup_segments_are_aligned_and_never_finer_than_allowed(
    a: datetime, b: datetime, max_step_s: int
) -> None:
    start, end = min(a, b), max(a, b)
    for segment in plan_segments(start, end, max_step_s):
        if segment.table == "llm_calls":
            continue
        step = STEP[segment.table]
        assert step <= max_step_s
        for edge in (segment.start, segment.end):
            assert edge.microsecond == 0 and int(edge.timestamp()) % step == 0


def test_a_week_reads_hours_plus_a_few_minutes_and_seconds_of_raw_rows() -> None:
    start = BASE + timedelta(minutes=7, seconds=30)
    end = start + timedelta(days=7)
    tables = [s.table for s in plan_segments(start, end)]
    assert tables == ["llm_calls", "llm_calls_1m", "llm_calls_1h", "llm_calls_1m", "llm_calls"]
    raw = sum(((s.end - s.start) for s in plan_segments(start, end) if s.table == "llm_calls"), timedelta())
    assert raw == timedelta(minutes=1)


def test_ninety_days_read_whole_days_then_hours_minutes_and_seconds_at_the_ends() -> None:
    start = BASE + timedelta(hours=5, minutes=7, seconds=30)
    end = start + timedelta(days=90)
    segments = plan_segments(start, end, DAY_S)
    tables = [s.table for s in segments]
    raw, minutes, hours = "llm_calls", "llm_calls_1m", "llm_calls_1h"
    assert tables == [raw, minutes, hours, "llm_calls_1d", hours, minutes, raw]
    [days] = [s for s in segments if s.table == "llm_calls_1d"]
    assert days.end - days.start == timedelta(days=89)
    # with hourly buckets asked for, the same range never reads the daily rollup
    assert "llm_calls_1d" not in [s.table for s in plan_segments(start, end, HOUR_S)]


def test_raw_only_makes_every_source_read_the_raw_table() -> None:
    from tiermix_server.metrics.filters import Filters, Params
    from tiermix_server.metrics.sources import counters_source, raw_only

    scope = Filters(BASE + timedelta(seconds=5), BASE + timedelta(days=2))
    assert "llm_calls_1h" in counters_source(scope, Params(), ("calls",))
    with raw_only():
        sql = counters_source(scope, Params(), ("calls",))
    assert "llm_calls_1h" not in sql and "llm_calls_1m" not in sql and "FROM llm_calls AS c" in sql
