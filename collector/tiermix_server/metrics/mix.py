"""Tier mix: calls, requests, tokens and cost per tier (or model, or provider) per time bucket.

Shares are within a bucket (and a group, with ``group_by``), so the keys of one bucket sum to 1.
``requests`` under a key are requests whose first attempt ran there; ``answered`` are requests whose
final attempt ran there, which makes ``share_answered`` of the top tier the (request-based) frontier
share of that bucket.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tiermix_server.metrics.filters import NO_GROUP, Filters, GroupBy, Params
from tiermix_server.metrics.sources import DAY_S, HOUR_S, MINUTE_S, counters_source, summed
from tiermix_server.metrics.summary import ratio

MIX_KEYS = ("tier", "model", "provider")
# interval name -> (bucket expression over the counters source, seconds per bucket, finest source step)
INTERVALS: dict[str, tuple[str, int, int]] = {
    "1m": ("toStartOfMinute(s.bucket)", 60, MINUTE_S),
    "1h": ("toStartOfHour(s.bucket)", 3600, HOUR_S),
    "1d": ("toStartOfDay(s.bucket)", 86400, DAY_S),
}
_COUNTERS = ("calls", "requests", "answered", "input_tokens", "output_tokens", "cost_usd")


@dataclass(frozen=True, slots=True)
class MixRow:
    bucket: datetime
    group: dict[str, str]  # tenant and/or route with ``group_by``, else empty
    key: str
    calls: int
    requests: int
    answered: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    share_calls: float | None
    share_cost: float | None
    share_answered: float | None


def mix(
    client: Any, filters: Filters, by: str = "tier", interval: str = "1h", group_by: GroupBy = NO_GROUP
) -> list[MixRow]:
    if by not in MIX_KEYS:
        raise ValueError(f"mix by {by!r}: use one of {', '.join(MIX_KEYS)}")
    if interval not in INTERVALS:
        raise ValueError(f"interval {interval!r}: use one of {', '.join(INTERVALS)}")
    groups = group_by.columns
    bucket_expr, _, max_step_s = INTERVALS[interval]
    params = Params()
    source = counters_source(filters, params, _COUNTERS, (by, *groups), max_step_s=max_step_s)
    group_select = "".join(f"s.{name} AS {name}, " for name in groups)
    group_order = "".join(f"{name}, " for name in groups)
    sql = (
        f"SELECT {bucket_expr} AS bucket, {group_select}s.{by} AS key, {summed(_COUNTERS)} "
        f"FROM {source} GROUP BY bucket, {group_order}key ORDER BY bucket, {group_order}key"
    )
    rows = list(client.query(sql, parameters=params.values).named_results())
    # Each share is within its bucket and group: one pass for the totals, one for the rows.
    cells = [(row["bucket"], *(row[name] for name in groups)) for row in rows]
    totals: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for row, cell in zip(rows, cells, strict=True):
        total = totals[cell]
        total[0] += row["calls"]
        total[1] += row["cost_usd"]
        total[2] += row["answered"]
    result = []
    for row, cell in zip(rows, cells, strict=True):
        calls_total, cost_total, answered_total = totals[cell]
        result.append(
            MixRow(
                bucket=as_utc(row["bucket"]),
                group={name: row[name] for name in groups},
                key=row["key"],
                calls=row["calls"],
                requests=row["requests"],
                answered=row["answered"],
                input_tokens=row["input_tokens"],
                output_tokens=row["output_tokens"],
                cost_usd=row["cost_usd"],
                share_calls=ratio(row["calls"], calls_total),
                share_cost=ratio(row["cost_usd"], cost_total),
                share_answered=ratio(row["answered"], answered_total),
            )
        )
    return result


def as_utc(value: datetime) -> datetime:
    """ClickHouse hands back naive datetimes for timezone.utc columns; make them explicit."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
