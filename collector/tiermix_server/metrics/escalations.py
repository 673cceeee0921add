"""Escalations and failovers: rate, overhead, and the reasons behind them.

escalation rate = requests with ≥ 1 escalated attempt / requests whose first attempt was below the top
tier; escalation overhead = cost of the abandoned (escalated) attempts. Failovers (error-driven retries on
the same tier or another provider) are counted and priced apart, never as escalations. Reasons read the
raw table, but only its escalated/failed-over attempts.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tiermix_server.metrics.filters import NO_GROUP, Filters, GroupBy, Params, raw_where
from tiermix_server.metrics.summary import Summary, ratio, summaries


@dataclass(frozen=True, slots=True)
class ReasonRow:
    group: dict[str, str]
    kind: str  # escalation | failover
    reason: str
    attempts: int
    requests: int
    cost_usd: float
    rate: float | None  # requests escalated for this reason / eligible requests (escalations only)


@dataclass(frozen=True, slots=True)
class Escalations:
    rows: list[tuple[Summary, float]]  # (summary of the group, failover cost)
    by_reason: list[ReasonRow]


def escalations(client: Any, filters: Filters, group_by: GroupBy = NO_GROUP) -> Escalations:
    groups = summaries(client, filters, group_by)
    eligible = {tuple(s.group[c] for c in group_by.columns): s.eligible_requests for s in groups}
    params = Params()
    where = raw_where(filters, params, filters.start, filters.end)
    order = ", ".join([*group_by.columns, "kind", "attempts DESC", "reason"])
    sql = (
        f"SELECT {group_by.select('c.')}if(c.escalated, 'escalation', 'failover') AS kind, "
        f"c.escalation_reason AS reason, count() AS attempts, uniqExact(c.request_id) AS requests, "
        f"sum(c.cost_usd) AS cost_usd FROM llm_calls AS c {where} AND (c.escalated OR c.failover) "
        f"{group_by.group('kind', 'reason')} ORDER BY {order}"
    )
    reasons = []
    failover_cost: dict[tuple[str, ...], float] = {}
    for row in client.query(sql, parameters=params.values).named_results():
        key = tuple(row[c] for c in group_by.columns)
        if row["kind"] == "failover":
            failover_cost[key] = failover_cost.get(key, 0.0) + row["cost_usd"]
        reasons.append(
            ReasonRow(
                group={c: row[c] for c in group_by.columns},
                kind=row["kind"],
                reason=row["reason"],
                attempts=row["attempts"],
                requests=row["requests"],
                cost_usd=row["cost_usd"],
                rate=ratio(row["requests"], eligible.get(key, 0)) if row["kind"] == "escalation" else None,
            )
        )
    rows = [(s, failover_cost.get(tuple(s.group[c] for c in group_by.columns), 0.0)) for s in groups]
    return Escalations(rows, reasons)
