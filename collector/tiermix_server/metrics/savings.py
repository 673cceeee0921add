"""Savings against a baseline model — an estimate, and labelled as one.

What is repriced: for every answered request, the *answering (final) attempt's* input, cached-input and
output tokens, at the baseline model's genai-prices list price at the range end (base segment: no
long-context surcharge), plus its per-request fee if it has one. Requests answered by an unpriced model
are left out on both sides of the comparison as far as the counters allow (their final tokens are not
counted; their actual cost is 0). ``savings = baseline_cost - actual_cost`` of the same scope.

Baseline model per route: an explicit ``per_route[route]``, else ``default_model``, else the route's
most-called model on the top tier in the scope, else the most-called top-tier model of the whole scope
(so under a ``model``/``tier`` filter that excludes the top tier there is no default baseline). The
baseline's provider for genai-prices is the provider that served that model most in the scope.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tiermix_server.metrics.filters import NO_GROUP, Filters, GroupBy
from tiermix_server.metrics.summary import ScopeRow, group_key, scope_rows


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
    return savings_from(scope_rows(client, filters, group_by), filters, group_by, baseline)


def savings_from(
    rows: list[ScopeRow],
    filters: Filters,
    group_by: GroupBy = NO_GROUP,
    baseline: BaselineChoice = BaselineChoice(),
) -> list[Savings]:
    """Savings per group from ``summary.scope_rows`` (counters per route x provider x model x tier)."""
    defaults, providers = _default_models(rows, filters.top_tier)
    prices: dict[str, Any] = {}
    totals: dict[tuple[str, ...], list[Any]] = defaultdict(lambda: [0.0, 0.0, set(), True])
    for row in rows:
        total = totals[group_key(row, group_by)]
        total[0] += row["cost_usd"]
        if not row["answered"]:
            continue
        chosen = baseline.model_for(row["route"]) or defaults.get(row["route"]) or defaults.get("")
        if chosen is None:
            total[3] = False
            continue
        if chosen not in prices:
            prices[chosen] = unit_cost_usd(providers.get(chosen, ""), chosen, filters.end)
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
            baseline_cost_usd=baseline_cost if priced and chosen_models else None,
            baseline_models=tuple(sorted(chosen_models)),
        )
        for key, (actual, baseline_cost, chosen_models, priced) in sorted(totals.items())
    ]


def _default_models(rows: list[ScopeRow], top_tier: str) -> tuple[dict[str, str], dict[str, str]]:
    """(route -> its most-called top-tier model, "" -> the scope's; model -> its most-used provider)."""
    per_route: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    overall: dict[str, float] = defaultdict(float)
    provider_calls: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        provider_calls[row["model"]][row["provider"]] += row["calls"]
        if row["tier"] == top_tier and row["calls"]:
            per_route[row["route"]][row["model"]] += row["calls"]
            overall[row["model"]] += row["calls"]
    chosen = {route: _most(models) for route, models in per_route.items()}
    if overall:
        chosen[""] = _most(overall)
    providers = {model: _most(calls) for model, calls in provider_calls.items()}
    return chosen, providers


def _most(counts: dict[str, float]) -> str:
    """The key with the highest count; ties go to the alphabetically first, so answers are stable."""
    return min(counts, key=lambda key: (-counts[key], key))
