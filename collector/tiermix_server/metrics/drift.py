"""Routing drift per tenant x route: the current window's model mix against a trailing baseline.

The current window is ``[end - window, end)``, the baseline ``[end - window - baseline, end - window)``.
Mix = calls per served model. A route drifts when its JS distance or PSI reaches its threshold, or when it
serves a model its baseline never saw (a new-model event). The change in overall frontier share (answered
requests on the top tier) is split into traffic shift and routing shift over tenant x route segments.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tiermix_server.metrics.drift_math import Decomposition, decompose, js_distance, psi
from tiermix_server.metrics.filters import Filters, Params
from tiermix_server.metrics.sources import counters_source, summed

DEFAULT_JS_THRESHOLD = 0.1
DEFAULT_PSI_THRESHOLD = 0.2
Segment = tuple[str, ...]  # (tenant, route)


@dataclass(frozen=True, slots=True)
class RouteDrift:
    tenant: str
    route: str
    baseline_calls: int
    current_calls: int
    js_distance: float
    psi: float
    new_models: tuple[str, ...]
    drifted: bool
    frontier_share_baseline: float | None
    frontier_share_current: float | None


@dataclass(frozen=True, slots=True)
class Drift:
    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    baseline_end: datetime
    routes: list[RouteDrift]
    frontier: Decomposition


@dataclass(slots=True)
class _Side:
    models: dict[Segment, dict[str, int]]
    answered: dict[Segment, tuple[float, float]]  # (answered, answered on top tier)


def _side(client: Any, filters: Filters, start: datetime, end: datetime) -> _Side:
    params = Params()
    top = params.add(filters.top_tier, "String")
    source = counters_source(
        filters, params, ("calls", "answered"), ("tenant", "route", "model", "tier"), start=start, end=end
    )
    sql = (
        f"SELECT s.tenant AS tenant, s.route AS route, s.model AS model, {summed(('calls', 'answered'))}, "
        f"sumIf(s.answered, s.tier = {top}) AS answered_top FROM {source} GROUP BY tenant, route, model"
    )
    models: dict[Segment, dict[str, int]] = defaultdict(dict)
    answered: dict[Segment, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in client.query(sql, parameters=params.values).named_results():
        segment = (row["tenant"], row["route"])
        if row["calls"]:
            models[segment][row["model"]] = row["calls"]
        answered[segment][0] += row["answered"]
        answered[segment][1] += row["answered_top"]
    return _Side(dict(models), {k: (v[0], v[1]) for k, v in answered.items() if v[0]})


def drift(
    client: Any,
    filters: Filters,
    window: timedelta = timedelta(hours=1),
    baseline: timedelta = timedelta(days=7),
    *,
    js_threshold: float = DEFAULT_JS_THRESHOLD,
    psi_threshold: float = DEFAULT_PSI_THRESHOLD,
) -> Drift:
    window_start = filters.end - window
    baseline_start = window_start - baseline
    before = _side(client, filters, baseline_start, window_start)
    now = _side(client, filters, window_start, filters.end)
    routes = []
    for segment in sorted(set(before.models) | set(now.models)):
        base_mix, current_mix = before.models.get(segment, {}), now.models.get(segment, {})
        js = js_distance(base_mix, current_mix)
        index = psi(base_mix, current_mix)
        new = tuple(sorted(set(current_mix) - set(base_mix))) if base_mix else ()
        shares_b, shares_c = before.answered.get(segment), now.answered.get(segment)
        routes.append(
            RouteDrift(
                tenant=segment[0],
                route=segment[1],
                baseline_calls=sum(base_mix.values()),
                current_calls=sum(current_mix.values()),
                js_distance=js,
                psi=index,
                new_models=new,
                # with no baseline (a new route) or no current traffic there is no mix to compare
                drifted=bool(
                    base_mix and current_mix and (js >= js_threshold or index >= psi_threshold or new)
                ),
                frontier_share_baseline=shares_b[1] / shares_b[0] if shares_b else None,
                frontier_share_current=shares_c[1] / shares_c[0] if shares_c else None,
            )
        )
    return Drift(
        window_start,
        filters.end,
        baseline_start,
        window_start,
        routes,
        decompose(before.answered, now.answered),
    )


def drift_scores(
    client: Any, filters: Filters, window: timedelta, baseline: timedelta
) -> dict[Segment, float]:
    """(tenant, route) → JS distance: the "drift score" alerts compare against a threshold."""
    result = drift(client, filters, window, baseline)
    return {(r.tenant, r.route): r.js_distance for r in result.routes}
