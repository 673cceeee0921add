"""Savings against a baseline model — an estimate, and labelled as one.

What is repriced: for every answered request, the *answering (final) attempt's* input, cached-input and
output tokens, at the baseline model's genai-prices list price at the range end (base segment: no
long-context surcharge), plus its per-request fee if it has one. Requests answered by an unpriced model
are left out on both sides of the comparison as far as the counters allow (their final tokens are not
counted; their actual cost is 0). ``savings = baseline_cost - actual_cost`` of the same scope.

Baseline model per route: an explicit ``baselines[route]``, else ``default_model``, else the route's
most-called model on the top tier in the range, else the most-called top-tier model of the whole scope.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tiermix_server.metrics.filters import NO_GROUP, Filters, GroupBy, Params
from tiermix_server.metrics.sources import counters_source, summed

_COUNTERS = ("cost_usd", "answered", "final_input_tokens", "final_output_tokens", "final_cache_read_tokens")


@dataclass(frozen=True, slots=True)
class BaselineChoice:
    default_model: str | None = None
    per_route: Mapping[str, str] = field(default_factory=dict)

    def model_for(self, route: str) -> str | None:
        return self.per_route.get(route, self.default_model)


@dataclass(frozen=True, slots=True)
class Savings:
    group: dict[str, str]
    actual_cost_usd: float
    baseline_cost_usd: float | None
    baseline_models: tuple[str, ...]

    @property
    def savings_usd(self) -> float | None:
        if self.baseline_cost_usd is None:
            return None
        return self.baseline_cost_usd - self.actual_cost_usd


def unit_cost_usd(provider: str, model: str, at: datetime) -> Any | None:
    """Base-segment per-token prices of ``model`` (genai-prices via pricing/genai.py), or ``None``."""
    from tiermix_server.pricing.genai import base_table

    found = base_table(provider, model, at)
    if found is None:
        return None
    return found[0].segments[0]


def savings(
    client: Any, filters: Filters, group_by: GroupBy = NO_GROUP, baseline: BaselineChoice = BaselineChoice()
) -> list[Savings]:
    params = Params()
    dimensions = group_by.columns if "route" in group_by.columns else (*group_by.columns, "route")
    source = counters_source(filters, params, _COUNTERS, dimensions)
    sql = (
        f"SELECT {group_by.select('s.')}s.route AS route_key, {summed(_COUNTERS)} FROM {source} "
        f"GROUP BY {', '.join([*group_by.columns, 'route_key'])}"
    )
    rows = client.query(sql, parameters=params.values).named_results()
    models = _default_models(client, filters)
    prices: dict[str, Any] = {}
    totals: dict[tuple[str, ...], list[Any]] = defaultdict(lambda: [0.0, 0.0, set(), True])
    for row in rows:
        key = tuple(row[c] for c in group_by.columns)
        total = totals[key]
        total[0] += row["cost_usd"]
        route = row["route_key"]
        chosen = baseline.model_for(route) or models.get(route) or models.get("")
        if chosen is None:
            total[3] = False
            continue
        if chosen not in prices:
            prices[chosen] = unit_cost_usd(_provider_of(client, chosen), chosen, filters.end)
        unit = prices[chosen]
        if unit is None:
            total[3] = False
            continue
        total[2].add(chosen)
        cache_read = row["final_cache_read_tokens"]
        uncached = max(0, row["final_input_tokens"] - cache_read)
        total[1] += (
            uncached * unit.input
            + cache_read * unit.cache_read
            + row["final_output_tokens"] * unit.output
            + row["answered"] * unit.request
        )
    return [
        Savings(
            group=dict(zip(group_by.columns, key, strict=True)),
            actual_cost_usd=actual,
            baseline_cost_usd=baseline_cost if priced else None,
            baseline_models=tuple(sorted(chosen_models)),
        )
        for key, (actual, baseline_cost, chosen_models, priced) in sorted(totals.items())
    ]


def _default_models(client: Any, filters: Filters) -> dict[str, str]:
    """route -> its most-called top-tier model in the scope; "" -> the scope's overall one."""
    params = Params()
    top = params.add(filters.top_tier, "String")
    unfiltered = Filters(
        filters.start,
        filters.end,
        filters.tenant,
        filters.route,
        filters.environment,
        None,
        None,
        filters.top_tier,
    )
    source = counters_source(unfiltered, params, ("calls",), ("route", "model", "tier"))
    sql = (
        f"SELECT s.route AS r, s.model AS m, sum(s.calls) AS n FROM {source} "
        f"WHERE s.tier = {top} GROUP BY r, m ORDER BY n DESC, m"
    )
    chosen: dict[str, str] = {}
    overall: dict[str, int] = defaultdict(int)
    for route, model, calls in client.query(sql, parameters=params.values).result_rows:
        chosen.setdefault(route, model)
        overall[model] += calls
    if overall:
        chosen[""] = max(sorted(overall), key=lambda m: overall[m])
    return chosen


def _provider_of(client: Any, model: str) -> str:
    """The provider that served ``model`` most (any time); "" lets genai-prices use the model's maker."""
    rows = client.query(
        "SELECT provider FROM llm_calls_1h WHERE model = {m:String} "
        "GROUP BY provider ORDER BY sum(calls) DESC LIMIT 1",
        parameters={"m": model},
    ).result_rows
    return str(rows[0][0]) if rows else ""
