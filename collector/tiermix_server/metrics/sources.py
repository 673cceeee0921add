"""Where counters come from: the hourly rollup, the per-minute rollup, or the raw table, stitched exactly.

A range ``[start, end)`` is cut into at most five segments: whole hours read ``llm_calls_1h``, the whole
minutes around them ``llm_calls_1m``, and the odd seconds at both ends the raw ``llm_calls`` (aggregated
with the same expressions the materialized views use). So any range is exact, and a 7-day dashboard
query touches the small hourly rollup plus a few minutes of raw rows instead of the whole raw table.

``COUNTERS`` mirrors migrations/.../0002_rollups.sql; the integration tests compare both paths.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from tiermix_server.metrics.filters import Filters, Params, bucket_where, raw_where

MINUTE_S = 60
HOUR_S = 3600

# counter name -> the aggregate over raw llm_calls (aliased c: qualified names keep ClickHouse from reading
# a column as the same-named aggregate alias) that the rollup MVs store under that name
COUNTERS: dict[str, str] = {
    "calls": "count()",
    "requests": "countIf(c.attempt = 0)",
    "answered": "countIf(c.final)",
    "escalations": "countIf(c.escalated)",
    "failovers": "countIf(c.failover)",
    "errors": "countIf(c.status = 'error')",
    "unpriced": "countIf(c.unpriced)",
    "input_tokens": "sum(c.input_tokens)",
    "output_tokens": "sum(c.output_tokens)",
    "cache_read_tokens": "sum(c.cache_read_tokens)",
    "cache_write_tokens": "sum(c.cache_write_tokens)",
    "reasoning_tokens": "sum(c.reasoning_tokens)",
    "cost_usd": "sum(c.cost_usd)",
    "escalated_cost_usd": "sumIf(c.cost_usd, c.escalated)",
    "duration_ms_sum": "sum(c.duration_ms)",
    "final_input_tokens": "sumIf(c.input_tokens, c.final AND NOT c.unpriced)",
    "final_output_tokens": "sumIf(c.output_tokens, c.final AND NOT c.unpriced)",
    "final_cache_read_tokens": "sumIf(c.cache_read_tokens, c.final AND NOT c.unpriced)",
}
DIMENSIONS = ("tenant", "route", "environment", "provider", "model", "tier")
_rollups_enabled: ContextVar[bool] = ContextVar("tiermix_rollups_enabled", default=True)


@contextlib.contextmanager
def raw_only() -> Iterator[None]:
    """Within this block every metric reads the raw table only (benchmark baseline, cross-checks)."""
    token = _rollups_enabled.set(False)
    try:
        yield
    finally:
        _rollups_enabled.reset(token)


@dataclass(frozen=True, slots=True)
class Segment:
    table: str  # llm_calls_1h | llm_calls_1m | llm_calls
    start: datetime
    end: datetime


def _floor(value: datetime, step_s: int) -> datetime:
    seconds = int(value.timestamp())
    floored = seconds - seconds % step_s
    result = value.replace(microsecond=0) - timedelta(seconds=seconds - floored)
    return result


def _ceil(value: datetime, step_s: int) -> datetime:
    floored = _floor(value, step_s)
    return floored if floored == value else floored + timedelta(seconds=step_s)


def plan_segments(start: datetime, end: datetime, max_step_s: int = HOUR_S) -> list[Segment]:
    """Cut ``[start, end)`` into non-overlapping segments, coarsest source first where aligned."""
    if start >= end:
        return []
    if max_step_s >= HOUR_S:
        first_hour, last_hour = _ceil(start, HOUR_S), _floor(end, HOUR_S)
        if first_hour < last_hour:
            return [
                *plan_segments(start, first_hour, MINUTE_S),
                Segment("llm_calls_1h", first_hour, last_hour),
                *plan_segments(last_hour, end, MINUTE_S),
            ]
    if max_step_s >= MINUTE_S:
        first_minute, last_minute = _ceil(start, MINUTE_S), _floor(end, MINUTE_S)
        if first_minute < last_minute:
            return [
                *plan_segments(start, first_minute, 0),
                Segment("llm_calls_1m", first_minute, last_minute),
                *plan_segments(last_minute, end, 0),
            ]
    return [Segment("llm_calls", start, end)]


def counters_source(
    filters: Filters,
    params: Params,
    counters: tuple[str, ...],
    dimensions: tuple[str, ...] = (),
    *,
    max_step_s: int = HOUR_S,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    """A subquery ``(... UNION ALL ...) AS s`` yielding ``bucket``, ``dimensions`` and ``counters`` rows.

    Rows are partial sums: the caller aggregates with ``sum()``. ``bucket`` is the minute or hour of
    the segment's own step, so callers may bucket at 1m only with ``max_step_s=MINUTE_S``.
    """
    unknown = [c for c in counters if c not in COUNTERS] + [d for d in dimensions if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown counters/dimensions: {unknown}")
    if not _rollups_enabled.get():
        max_step_s = 0
    segments = plan_segments(start or filters.start, end or filters.end, max_step_s)
    if not segments:
        # An empty range still needs a well-typed, empty source.
        segments = [Segment("llm_calls", filters.start, filters.start)]
    dims = "".join(f"{d}, " for d in dimensions)
    parts = []
    for segment in segments:
        if segment.table == "llm_calls":
            aggregates = ", ".join(f"{COUNTERS[c]} AS {c}" for c in counters)
            group = ", ".join(["bucket", *dimensions])
            parts.append(
                f"SELECT toStartOfMinute(c.ts) AS bucket, {dims}{aggregates} FROM llm_calls AS c "
                f"{raw_where(filters, params, segment.start, segment.end)} GROUP BY {group}"
            )
        else:
            columns = ", ".join(counters)
            parts.append(
                f"SELECT bucket, {dims}{columns} FROM {segment.table} "
                f"{bucket_where(filters, params, segment.start, segment.end)}"
            )
    return "(" + " UNION ALL ".join(parts) + ") AS s"


def summed(counters: tuple[str, ...]) -> str:
    """``sum(s.calls) AS calls, ...`` for the outer query over ``counters_source`` (aliased ``s``)."""
    return ", ".join(f"sum(s.{c}) AS {c}" for c in counters)
