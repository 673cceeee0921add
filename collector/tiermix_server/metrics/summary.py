"""The headline numbers of a scope: volume, spend, frontier share, escalation rate, errors, unpriced.

One rollup query (``scope_rows``: counters per group x route x provider x model x tier) feeds both the
summary and the savings estimate, so a summary costs one pass over the hourly rollup. Definitions are
docs/architecture.md, metrics; ``docs/api.md`` repeats them for API users.

Escalated requests are counted without a per-request scan, by their *first* escalation: an escalated first
attempt, or an escalated later attempt on the bottom tier (an escalation goes to a higher tier, so one
from the bottom tier can only be a request's first). Exact for every request except one that starts
above the bottom tier, fails over, and only then escalates — that one is not counted.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from tiermix_server.metrics.filters import NO_GROUP, Filters, GroupBy, Params
from tiermix_server.metrics.sources import counters_source, summed

GroupKey = tuple[str, ...]
ScopeRow = dict[str, Any]

SCOPE_COUNTERS = (
    "calls", "requests", "answered", "escalations", "escalated_first", "failovers", "errors", "unpriced",
    "input_tokens", "output_tokens", "cost_usd", "escalated_cost_usd",
    "final_input_tokens", "final_output_tokens", "final_cache_read_tokens",
)  # fmt: skip
_SCOPE_DIMENSIONS = ("route", "provider", "model", "tier")


def ratio(numerator: float, denominator: float) -> float | None:
    """A share or rate; ``None`` when there is nothing to divide by (never a fake 0)."""
    return numerator / denominator if denominator else None


@dataclass(frozen=True, slots=True)
class Summary:
    group: dict[str, str] = field(default_factory=dict)
    calls: int = 0
    requests: int = 0
    answered: int = 0
    answered_top: int = 0
    calls_top: int = 0
    eligible_requests: int = 0  # requests whose first attempt was below the top tier
    escalated_requests: int = 0
    escalations: int = 0
    failovers: int = 0
    errors: int = 0
    unpriced_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    escalation_overhead_usd: float = 0.0

    @property
    def frontier_share(self) -> float | None:
        return ratio(self.answered_top, self.answered)

    @property
    def frontier_share_calls(self) -> float | None:
        return ratio(self.calls_top, self.calls)

    @property
    def escalation_rate(self) -> float | None:
        return ratio(self.escalated_requests, self.eligible_requests)

    @property
    def cost_per_request_usd(self) -> float | None:
        return ratio(self.cost_usd, self.requests)

    @property
    def error_rate(self) -> float | None:
        return ratio(self.errors, self.calls)

    @property
    def unpriced_share(self) -> float | None:
        return ratio(self.unpriced_calls, self.calls)

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        group = values.pop("group")
        for name in ("answered_top", "calls_top"):
            values.pop(name)
        for name in (
            "frontier_share", "frontier_share_calls", "escalation_rate", "cost_per_request_usd",
            "error_rate", "unpriced_share",
        ):  # fmt: skip
            values[name] = getattr(self, name)
        return {**group, **values}


def scope_rows(client: Any, filters: Filters, group_by: GroupBy = NO_GROUP) -> list[ScopeRow]:
    """Counters per group x route x provider x model x tier: a few thousand rows at most."""
    params = Params()
    dimensions = tuple(dict.fromkeys([*group_by.columns, *_SCOPE_DIMENSIONS]))
    source = counters_source(filters, params, SCOPE_COUNTERS, dimensions)
    keys = ", ".join(dimensions)
    sql = (
        f"SELECT {', '.join(f's.{d} AS {d}' for d in dimensions)}, {summed(SCOPE_COUNTERS)} "
        f"FROM {source} GROUP BY {keys} ORDER BY {keys}"
    )
    return list(client.query(sql, parameters=params.values).named_results())


def group_key(row: ScopeRow, group_by: GroupBy) -> GroupKey:
    return tuple(row[c] for c in group_by.columns)


def summarise(rows: list[ScopeRow], filters: Filters, group_by: GroupBy = NO_GROUP) -> list[Summary]:
    """One ``Summary`` per group, in group order (a single one, possibly all zeros, without a group-by)."""
    totals: dict[GroupKey, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        total = totals[group_key(row, group_by)]
        for name in SCOPE_COUNTERS:
            total[name] += row[name]
        top = row["tier"] == filters.top_tier
        total["answered_top"] += row["answered"] if top else 0
        total["calls_top"] += row["calls"] if top else 0
        total["eligible"] += 0 if top else row["requests"]
        total["escalated_requests"] += row["escalated_first"]
        if row["tier"] == filters.bottom_tier:
            total["escalated_requests"] += row["escalations"] - row["escalated_first"]
    if not group_by.columns and not totals:
        return [Summary()]
    return [
        Summary(
            group=dict(zip(group_by.columns, key, strict=True)),
            calls=int(t["calls"]),
            requests=int(t["requests"]),
            answered=int(t["answered"]),
            answered_top=int(t["answered_top"]),
            calls_top=int(t["calls_top"]),
            eligible_requests=int(t["eligible"]),
            escalated_requests=int(t["escalated_requests"]),
            escalations=int(t["escalations"]),
            failovers=int(t["failovers"]),
            errors=int(t["errors"]),
            unpriced_calls=int(t["unpriced"]),
            input_tokens=int(t["input_tokens"]),
            output_tokens=int(t["output_tokens"]),
            cost_usd=t["cost_usd"],
            escalation_overhead_usd=t["escalated_cost_usd"],
        )
        for key, t in sorted(totals.items())
    ]


def summaries(client: Any, filters: Filters, group_by: GroupBy = NO_GROUP) -> list[Summary]:
    return summarise(scope_rows(client, filters, group_by), filters, group_by)


def summary(client: Any, filters: Filters) -> Summary:
    return summaries(client, filters)[0]
