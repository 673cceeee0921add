"""The headline numbers of a scope: volume, spend, frontier share, escalation rate, errors, unpriced.

Counters come from the rollups (see ``sources``); the one request-level number a counter cannot give,
"requests with at least one escalation", is counted exactly over the raw table's escalated attempts only.
Definitions are DESIGN.md §7; ``docs/api.md`` repeats them for API users.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tiermix_server.metrics.filters import NO_GROUP, Filters, GroupBy, Params, raw_where
from tiermix_server.metrics.sources import counters_source, summed

GroupKey = tuple[str, ...]

_COUNTERS = (
    "calls",
    "requests",
    "answered",
    "escalations",
    "failovers",
    "errors",
    "unpriced",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "escalated_cost_usd",
)


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


def summaries(client: Any, filters: Filters, group_by: GroupBy = NO_GROUP) -> list[Summary]:
    """One ``Summary`` per group (a single one, possibly all zeros, without a group-by)."""
    params = Params()
    top = params.add(filters.top_tier, "String")
    source = counters_source(filters, params, _COUNTERS, (*group_by.columns, "tier"))
    sql = (
        f"SELECT {group_by.select()}{summed(_COUNTERS)}, "
        f"sumIf(s.answered, s.tier = {top}) AS answered_top, sumIf(s.calls, s.tier = {top}) AS calls_top, "
        f"sumIf(s.requests, s.tier != {top}) AS eligible_requests "
        f"FROM {source} {group_by.group()} ORDER BY {', '.join(group_by.columns) or 'calls'}"
    )
    rows = client.query(sql, parameters=params.values).named_results()
    escalated = escalated_requests(client, filters, group_by)
    result = []
    for row in rows:
        key = tuple(row[c] for c in group_by.columns)
        result.append(
            Summary(
                group={c: row[c] for c in group_by.columns},
                calls=row["calls"],
                requests=row["requests"],
                answered=row["answered"],
                answered_top=row["answered_top"],
                calls_top=row["calls_top"],
                eligible_requests=row["eligible_requests"],
                escalated_requests=escalated.get(key, 0),
                escalations=row["escalations"],
                failovers=row["failovers"],
                errors=row["errors"],
                unpriced_calls=row["unpriced"],
                input_tokens=row["input_tokens"],
                output_tokens=row["output_tokens"],
                cost_usd=row["cost_usd"],
                escalation_overhead_usd=row["escalated_cost_usd"],
            )
        )
    if not group_by.columns and not result:
        result.append(Summary())
    return result


def summary(client: Any, filters: Filters) -> Summary:
    return summaries(client, filters)[0]


def escalated_requests(client: Any, filters: Filters, group_by: GroupBy = NO_GROUP) -> dict[GroupKey, int]:
    """Distinct requests with an escalated attempt in the range, per group (raw, escalated rows only)."""
    params = Params()
    where = raw_where(filters, params, filters.start, filters.end)
    sql = (
        f"SELECT {group_by.select('c.')}uniqExact(c.request_id) AS escalated_requests FROM llm_calls AS c "
        f"{where} AND c.escalated {group_by.group()}"
    )
    rows = client.query(sql, parameters=params.values).named_results()
    return {tuple(row[c] for c in group_by.columns): row["escalated_requests"] for row in rows}
