"""Cost per logical request: all attempts of a cascade summed, then mean, p50 and p95.

The mean comes from the rollup counters (cost / requests). Percentiles need one sum per request. A scope
of up to ``PERCENTILE_SAMPLE_CALLS`` calls reads the raw table grouped by ``request_id`` (exact; the
leading sort key keeps a one-tenant query cheap). A larger one reads the fixed 1-in-64 request sample
(``llm_request_sample_1m``, whole cascades: ``request_id % 64 = 0``; raw rows with the same filter for a
range's partial minutes), so its cost no longer grows with the raw table; the rate is reported so the
figure is never passed off as exact. A model or tier filter (which the sample cannot apply to a
request) samples the raw table at the rate instead.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tiermix_server.metrics.filters import NO_GROUP, Filters, GroupBy, Params, raw_where
from tiermix_server.metrics.mix import INTERVALS, as_utc
from tiermix_server.metrics.sources import DAY_S, REQUEST_SAMPLE, REQUEST_SAMPLE_RATE, counters_source, summed
from tiermix_server.metrics.summary import ScopeRow, ratio, scope_rows, summarise

PERCENTILE_SAMPLE_CALLS = 1_000_000
_COUNTERS = ("requests", "calls", "cost_usd", "escalated_cost_usd", "unpriced")


@dataclass(frozen=True, slots=True)
class CostRow:
    group: dict[str, str]
    bucket: datetime | None
    requests: int
    calls: int
    cost_usd: float
    escalation_overhead_usd: float
    unpriced_calls: int
    p50_usd: float | None = None
    p95_usd: float | None = None

    @property
    def cost_per_request_usd(self) -> float | None:
        return ratio(self.cost_usd, self.requests)


def sample_rate(calls: int, target_calls: int = PERCENTILE_SAMPLE_CALLS) -> int:
    """The smallest power of two that brings ``calls`` down to about ``target_calls``."""
    rate = 1
    while calls > target_calls * rate:
        rate *= 2
    return rate


def percentile_rate(calls: int, filters: Filters, exact_calls: int = PERCENTILE_SAMPLE_CALLS) -> int:
    """1 (exact) up to ``exact_calls``; beyond, the stored sample's rate, unless a model or tier filter
    (which the sample cannot apply to a request) leaves a raw sample sized by ``sample_rate``."""
    rate = sample_rate(calls, exact_calls)
    return REQUEST_SAMPLE_RATE if rate > 1 and _sample_serves(filters) else rate


def _sample_serves(filters: Filters) -> bool:
    return filters.model is None and filters.tier is None


def cost_rows(
    client: Any, filters: Filters, group_by: GroupBy = NO_GROUP, interval: str = ""
) -> list[CostRow]:
    """Mean cost per request per group (and per bucket when ``interval`` is ``1h`` / ``1d``)."""
    params = Params()
    bucket_select = ""
    bucket_group: tuple[str, ...] = ()
    max_step_s = DAY_S  # no time buckets: whole days may read the daily rollup
    if interval:
        bucket_expr, _, max_step_s = INTERVALS[interval]
        bucket_select, bucket_group = f"{bucket_expr} AS bucket, ", ("bucket",)
    source = counters_source(filters, params, _COUNTERS, group_by.columns, max_step_s=max_step_s)
    order = ", ".join([*bucket_group, *group_by.columns]) or "calls"
    sql = (
        f"SELECT {bucket_select}{group_by.select('s.')}{summed(_COUNTERS)} FROM {source} "
        f"{group_by.group(*bucket_group)} ORDER BY {order}"
    )
    result = []
    for row in client.query(sql, parameters=params.values).named_results():
        result.append(
            CostRow(
                group={c: row[c] for c in group_by.columns},
                bucket=as_utc(row["bucket"]) if interval else None,
                requests=row["requests"],
                calls=row["calls"],
                cost_usd=row["cost_usd"],
                escalation_overhead_usd=row["escalated_cost_usd"],
                unpriced_calls=row["unpriced"],
            )
        )
    return result


def request_cost_percentiles(
    client: Any, filters: Filters, group_by: GroupBy = NO_GROUP, *, rate: int = 1
) -> dict[tuple[str, ...], tuple[float, float]]:
    """(p50, p95) of per-request cost per group, over requests with ``request_id % rate = 0``."""
    params = Params()
    if rate == REQUEST_SAMPLE_RATE and _sample_serves(filters):
        columns = (*group_by.columns, "request_id")
        source = counters_source(filters, params, ("cost_usd",), columns, family=REQUEST_SAMPLE)
        per_request = (
            f"SELECT {group_by.select('s.')}sum(s.cost_usd) AS request_cost FROM {source} "
            f"GROUP BY {', '.join(f's.{c}' for c in columns)}"
        )
    else:
        where = raw_where(filters, params, filters.start, filters.end)
        if rate > 1:
            where += f" AND c.request_id % {params.add(rate, 'UInt64')} = 0"
        inner_group = ", ".join([*(f"c.{c}" for c in group_by.columns), "c.request_id"])
        per_request = (
            f"SELECT {group_by.select('c.')}sum(c.cost_usd) AS request_cost FROM llm_calls AS c {where} "
            f"GROUP BY {inner_group}"
        )
    sql = (
        f"SELECT {group_by.select('r.')}quantilesExact(0.5, 0.95)(r.request_cost) AS q "
        f"FROM ({per_request}) AS r {group_by.group()}"
    )
    out = {}
    for row in client.query(sql, parameters=params.values).named_results():
        q = row["q"]
        if q:
            out[tuple(row[c] for c in group_by.columns)] = (float(q[0]), float(q[1]))
    return out


def cost_with_percentiles(
    client: Any,
    filters: Filters,
    group_by: GroupBy = NO_GROUP,
    *,
    percentiles: bool = True,
    rows: list[ScopeRow] | None = None,
    exact_calls: int = PERCENTILE_SAMPLE_CALLS,
) -> tuple[list[CostRow], int | None]:
    """Cost per request per group, with p50/p95 unless ``percentiles`` is false, and the sample rate the
    percentiles used (1 = exact; ``None`` = not computed). ``rows``: ``summary.scope_rows`` if at hand.
    ``exact_calls``: the largest scope whose percentiles are exact."""
    if rows is None:
        rows = scope_rows(client, filters, group_by)
    groups = summarise(rows, filters, group_by)
    quantiles: dict[tuple[str, ...], tuple[float, float]] = {}
    rate = None
    if percentiles:
        rate = percentile_rate(sum(g.calls for g in groups), filters, exact_calls)
        quantiles = request_cost_percentiles(client, filters, group_by, rate=rate)
    result = []
    for g in groups:
        p50, p95 = quantiles.get(tuple(g.group[c] for c in group_by.columns), (None, None))
        result.append(
            CostRow(
                g.group,
                None,
                g.requests,
                g.calls,
                g.cost_usd,
                g.escalation_overhead_usd,
                g.unpriced_calls,
                p50,
                p95,
            )
        )
    return result, rate
