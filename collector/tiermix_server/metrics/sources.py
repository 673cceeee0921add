"""Where counters come from: hourly rollup, per-minute rollup or raw table, stitched exactly.

A range ``[start, end)`` is cut into at most seven segments: whole days read the daily rollup (where the
caller's buckets allow it: ``max_step_s``), whole hours around them the hourly one, whole minutes the
per-minute one, and the odd seconds at both ends the raw ``llm_calls`` (aggregated with the same
expressions the materialized views use). So any range is exact, a 7-day dashboard query reads the small
hourly rollup plus a few raw rows instead of the whole raw table, and a 90-day one reads 90 daily rows
per group.

A ``Family`` is one set of counters with its rollups: ``CALLS`` (every call; llm_calls_1m/_1h/_1d),
``ESCALATIONS`` (abandoned attempts by reason; llm_escalations_1m/_1h) and ``BY_BAND`` (by token band,
routing-score bin and first attempt or not, per day; llm_calls_by_band_1d). Their expressions mirror
the migrations (0002_rollups.sql, 0005_calls_by_band.sql); the integration tests compare rollup and raw
answers.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tiermix_server.metrics.bands import band_sql, score_bin_sql
from tiermix_server.metrics.filters import Filters, Params, bucket_where, raw_where

MINUTE_S = 60
HOUR_S = 3600
DAY_S = 86400

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
    "escalated_first": "countIf(c.escalated AND c.attempt = 0)",
}
DIMENSIONS = ("tenant", "route", "environment", "provider", "model", "tier")


@dataclass(frozen=True, slots=True)
class Family:
    """Counters over raw calls (``raw_filter`` picks which) and the rollups that store them per step."""

    counters: Mapping[str, str]
    dimensions: Mapping[str, str]  # name -> expression over raw ``llm_calls AS c``
    rollups: Mapping[int, str]  # step in seconds -> rollup table
    raw_filter: str = ""
    name: str = field(default="calls")


CALLS = Family(
    COUNTERS,
    {d: f"c.{d}" for d in DIMENSIONS},
    {DAY_S: "llm_calls_1d", HOUR_S: "llm_calls_1h", MINUTE_S: "llm_calls_1m"},
)
ESCALATIONS = Family(
    counters={
        "attempts": "count()",
        "attempts_first": "countIf(c.attempt = 0)",
        "cost_usd": "sum(c.cost_usd)",
    },
    dimensions={
        **{d: f"c.{d}" for d in ("tenant", "route", "environment", "model", "tier")},
        "kind": "if(c.escalated, 'escalation', 'failover')",
        "reason": "c.escalation_reason",
    },
    rollups={HOUR_S: "llm_escalations_1h", MINUTE_S: "llm_escalations_1m"},
    raw_filter="(c.escalated OR c.failover)",
    name="escalations",
)

# Calls by token band, routing-score bin and first attempt or not, per day (right-sizing:
# metrics/opportunities.py and metrics/whatif.py). A range's partial days read raw rows. Mirrors
# 0005_calls_by_band.sql.
_PRICED = "NOT c.unpriced"
BY_BAND = Family(
    counters={
        "calls": "count()",
        "accepted": "countIf(c.final AND c.status = 'ok')",
        "priced": f"countIf({_PRICED})",
        "cost_usd": f"sumIf(c.cost_usd, {_PRICED})",
        **{
            t: f"sumIf(c.{t}, {_PRICED})"
            for t in (
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
                "reasoning_tokens",
            )
        },
    },
    dimensions={
        **{d: f"c.{d}" for d in (*DIMENSIONS, "router")},
        "first": "toUInt8(c.attempt = 0)",
        "band": band_sql("c.input_tokens"),
        "score_bin": score_bin_sql("c.routing_score"),
    },
    rollups={DAY_S: "llm_calls_by_band_1d"},
    name="by_band",
)

# A fixed 1-in-REQUEST_SAMPLE_RATE sample of logical requests (whole cascades: chosen by request_id), each
# request's cost summed per hour: what per-request cost percentiles read on large scopes
# (metrics/cost.py). Mirrors 0008_request_sample.sql. It has no model or tier column: a request's
# attempts may run on several.
REQUEST_SAMPLE_RATE = 64
REQUEST_SAMPLE = Family(
    counters={"calls": "count()", "cost_usd": "sum(c.cost_usd)"},
    dimensions={d: f"c.{d}" for d in ("tenant", "route", "environment", "request_id")},
    rollups={MINUTE_S: "llm_request_sample_1m"},
    raw_filter=f"modulo(c.request_id, {REQUEST_SAMPLE_RATE}) = 0",  # not %: client-side binding reads it
    name="request_sample",
)

# Every family whose rollups a materialized view named ``<table>_mv`` fills from ``llm_calls``.
FAMILIES = (CALLS, ESCALATIONS, BY_BAND, REQUEST_SAMPLE)
ROLLUP_VIEWS = tuple(f"{table}_mv" for family in FAMILIES for table in family.rollups.values())

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
    table: str  # a rollup table, or llm_calls
    start: datetime
    end: datetime


def floor_to_step(value: datetime, step_s: int) -> datetime:
    seconds = int(value.timestamp())
    return value.replace(microsecond=0) - timedelta(seconds=seconds % step_s)


def ceil_to_step(value: datetime, step_s: int) -> datetime:
    floored = floor_to_step(value, step_s)
    return floored if floored == value else floored + timedelta(seconds=step_s)


def plan_segments(
    start: datetime, end: datetime, max_step_s: int = HOUR_S, family: Family = CALLS
) -> list[Segment]:
    """Cut ``[start, end)`` into non-overlapping segments, coarsest rollup first where aligned."""
    steps = sorted((s for s in family.rollups if s <= max_step_s), reverse=True)
    return _plan(start, end, steps, family)


def _plan(start: datetime, end: datetime, steps: list[int], family: Family) -> list[Segment]:
    if start >= end:
        return []
    for index, step in enumerate(steps):
        first, last = ceil_to_step(start, step), floor_to_step(end, step)
        if first < last:
            finer = steps[index + 1 :]
            return [
                *_plan(start, first, finer, family),
                Segment(family.rollups[step], first, last),
                *_plan(last, end, finer, family),
            ]
    return [Segment("llm_calls", start, end)]


def counters_source(
    filters: Filters,
    params: Params,
    counters: tuple[str, ...],
    dimensions: tuple[str, ...] = (),
    *,
    max_step_s: int = DAY_S,
    start: datetime | None = None,
    end: datetime | None = None,
    family: Family = CALLS,
) -> str:
    """A subquery ``(... UNION ALL ...) AS s`` yielding ``bucket``, ``dimensions`` and ``counters`` rows.

    Rows are partial sums: the caller aggregates with ``sum(s.x)``. ``bucket`` is the minute, hour or day
    of the segment's own step, so callers may bucket at 1m only with ``max_step_s=MINUTE_S`` and at 1h
    only with ``max_step_s=HOUR_S``; by default (no time buckets) whole days read the daily rollup.
    """
    unknown = [c for c in counters if c not in family.counters]
    unknown += [d for d in dimensions if d not in family.dimensions]
    if unknown:
        raise ValueError(f"unknown counters/dimensions for {family.name}: {unknown}")
    if not _rollups_enabled.get():
        max_step_s = 0
    segments = plan_segments(start or filters.start, end or filters.end, max_step_s, family)
    if not segments:
        # An empty range still needs a well-typed, empty source.
        segments = [Segment("llm_calls", filters.start, filters.start)]
    parts = []
    for segment in segments:
        if segment.table == "llm_calls":
            dims = "".join(f"{family.dimensions[d]} AS {d}, " for d in dimensions)
            aggregates = ", ".join(f"{family.counters[c]} AS {c}" for c in counters)
            where = raw_where(filters, params, segment.start, segment.end)
            if family.raw_filter:
                where += f" AND {family.raw_filter}"
            parts.append(
                f"SELECT toStartOfMinute(c.ts) AS bucket, {dims}{aggregates} FROM llm_calls AS c "
                f"{where} GROUP BY {', '.join(['bucket', *dimensions])}"
            )
        else:
            dims = "".join(f"{d}, " for d in dimensions)
            parts.append(
                f"SELECT bucket, {dims}{', '.join(counters)} FROM {segment.table} "
                f"{bucket_where(filters, params, segment.start, segment.end)}"
            )
    return "(" + " UNION ALL ".join(parts) + ") AS s"


def summed(counters: tuple[str, ...]) -> str:
    """``sum(s.calls) AS calls, ...`` for the outer query over ``counters_source`` (aliased ``s``)."""
    return ", ".join(f"sum(s.{c}) AS {c}" for c in counters)
