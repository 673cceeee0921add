"""Escalations and failovers: rate, overhead, and the reasons behind them.

escalation rate = escalated requests / requests whose first attempt was below the top tier (counting rule
in summary.py); escalation overhead = cost of the abandoned (escalated) attempts. Failovers (error-driven
retries on the same tier or another provider) are counted and priced apart, never as escalations.
Reasons come from the ``llm_escalations_1m``/``_1h`` rollups, which hold abandoned attempts only.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tiermix_server.metrics.filters import NO_GROUP, Filters, GroupBy, Params
from tiermix_server.metrics.mix import INTERVALS, as_utc
from tiermix_server.metrics.sources import ESCALATIONS, counters_source, summed
from tiermix_server.metrics.summary import Summary, ratio, summaries

_COUNTERS = ("attempts", "attempts_first", "cost_usd")


@dataclass(frozen=True, slots=True)
class ReasonRow:
    group: dict[str, str]
    kind: str  # escalation | failover
    reason: str
    attempts: int
    requests: int | None  # escalations: requests whose first escalation had this reason; failovers: None
    cost_usd: float
    rate: float | None  # requests / eligible requests of the group (escalations only)


@dataclass(frozen=True, slots=True)
class ReasonBucket:
    """Abandoned attempts of one kind and reason in one clock-aligned time bucket."""

    bucket: datetime
    kind: str  # escalation | failover
    reason: str
    attempts: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Escalations:
    rows: list[tuple[Summary, float]]  # (summary of the group, failover cost)
    by_reason: list[ReasonRow]


def escalations(client: Any, filters: Filters, group_by: GroupBy = NO_GROUP) -> Escalations:
    groups = summaries(client, filters, group_by)
    eligible = {tuple(s.group[c] for c in group_by.columns): s.eligible_requests for s in groups}
    params = Params()
    dimensions = (*group_by.columns, "kind", "reason", "tier")
    source = counters_source(filters, params, _COUNTERS, dimensions, family=ESCALATIONS)
    keys = ", ".join(dimensions)
    columns = ", ".join(f"s.{d} AS {d}" for d in dimensions)
    sql = f"SELECT {columns}, {summed(_COUNTERS)} FROM {source} GROUP BY {keys}"
    cells: dict[tuple[tuple[str, ...], str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for row in client.query(sql, parameters=params.values).named_results():
        cell = cells[(tuple(row[c] for c in group_by.columns), row["kind"], row["reason"])]
        cell[0] += row["attempts"]
        first = row["attempts_first"]
        if row["kind"] == "escalation" and row["tier"] == filters.bottom_tier:
            first = row["attempts"]  # an escalation from the bottom tier is always a request's first
        cell[1] += first
        cell[2] += row["cost_usd"]
    reasons = [
        ReasonRow(
            group=dict(zip(group_by.columns, key, strict=True)),
            kind=kind,
            reason=reason,
            attempts=int(attempts),
            requests=int(requests) if kind == "escalation" else None,
            cost_usd=cost,
            rate=ratio(requests, eligible.get(key, 0)) if kind == "escalation" else None,
        )
        for (key, kind, reason), (attempts, requests, cost) in cells.items()
    ]
    reasons.sort(key=lambda r: (tuple(r.group.values()), r.kind, -r.attempts, r.reason))
    failover_cost: dict[tuple[str, ...], float] = defaultdict(float)
    for r in reasons:
        if r.kind == "failover":
            failover_cost[tuple(r.group.values())] += r.cost_usd
    rows = [(s, failover_cost.get(tuple(s.group[c] for c in group_by.columns), 0.0)) for s in groups]
    return Escalations(rows, reasons)


def reasons_over_time(client: Any, filters: Filters, interval: str) -> list[ReasonBucket]:
    """Abandoned attempts per kind and reason in the same clock-aligned buckets as ``mix`` (1m/1h/1d),
    each bucket stamped with its own start, so an escalation is drawn where it happened."""
    if interval not in INTERVALS:
        raise ValueError(f"interval {interval!r}: use one of {', '.join(INTERVALS)}")
    bucket_expr, _, max_step_s = INTERVALS[interval]
    params, counters = Params(), ("attempts", "cost_usd")
    source = counters_source(
        filters, params, counters, ("kind", "reason"), max_step_s=max_step_s, family=ESCALATIONS
    )
    sql = (
        f"SELECT {bucket_expr} AS bucket, s.kind AS kind, s.reason AS reason, {summed(counters)} "
        f"FROM {source} GROUP BY bucket, kind, reason ORDER BY bucket, kind, reason"
    )
    return [
        ReasonBucket(as_utc(row["bucket"]), row["kind"], row["reason"], int(row["attempts"]), row["cost_usd"])
        for row in client.query(sql, parameters=params.values).named_results()
    ]
