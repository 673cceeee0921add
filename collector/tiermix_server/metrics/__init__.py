"""Every metric of docs/architecture.md, metrics, defined once; the API, the dashboard (through the API)
and alerts use these.

The alert-facing functions below all take a ``Filters`` (scope and time range), an optional
``GroupBy`` (tenant and/or route) and an optional ``window`` (then the range is ``[end - window, end)``),
and return one ``MetricValue`` per group: the value (``None`` when its denominator is 0) and the volume
behind it (for minimum-volume conditions). Richer shapes live in the submodules: ``summary``, ``mix``,
``cost``, ``escalations``, ``savings``, ``drift``, ``calls``, ``health``, ``chargeback``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tiermix_server.metrics.cost import cost_rows
from tiermix_server.metrics.drift import Drift, drift
from tiermix_server.metrics.filters import DEFAULT_TOP_TIER, NO_GROUP, Filters, GroupBy
from tiermix_server.metrics.mix import mix
from tiermix_server.metrics.summary import Summary, summaries, summary

__all__ = [
    "DEFAULT_TOP_TIER",
    "NO_GROUP",
    "Drift",
    "Filters",
    "GroupBy",
    "MetricValue",
    "Summary",
    "cost_per_request",
    "drift",
    "drift_score",
    "error_rate",
    "escalation_rate",
    "frontier_share",
    "mix",
    "spend",
    "summaries",
    "summary",
    "unpriced_share",
]


@dataclass(frozen=True, slots=True)
class MetricValue:
    group: dict[str, str]
    value: float | None
    volume: int


def _scoped(filters: Filters, window: timedelta | None) -> Filters:
    return filters if window is None else filters.with_range(filters.end - window, filters.end)


def frontier_share(
    client: Any, filters: Filters, group_by: GroupBy = NO_GROUP, window: timedelta | None = None,
    *, calls_based: bool = False,
) -> list[MetricValue]:  # fmt: skip
    """Share of answered requests on the top tier (volume: answered requests); or of calls."""
    rows = summaries(client, _scoped(filters, window), group_by)
    if calls_based:
        return [MetricValue(s.group, s.frontier_share_calls, s.calls) for s in rows]
    return [MetricValue(s.group, s.frontier_share, s.answered) for s in rows]


def cost_per_request(
    client: Any, filters: Filters, group_by: GroupBy = NO_GROUP, window: timedelta | None = None
) -> list[MetricValue]:
    """Mean cost of a logical request, all attempts counted (volume: requests)."""
    return [
        MetricValue(r.group, r.cost_per_request_usd, r.requests)
        for r in cost_rows(client, _scoped(filters, window), group_by)
    ]


def escalation_rate(
    client: Any, filters: Filters, group_by: GroupBy = NO_GROUP, window: timedelta | None = None
) -> list[MetricValue]:
    """Escalated requests / requests that started below the top tier (volume: the latter)."""
    rows = summaries(client, _scoped(filters, window), group_by)
    return [MetricValue(s.group, s.escalation_rate, s.eligible_requests) for s in rows]


def error_rate(
    client: Any, filters: Filters, group_by: GroupBy = NO_GROUP, window: timedelta | None = None
) -> list[MetricValue]:
    rows = summaries(client, _scoped(filters, window), group_by)
    return [MetricValue(s.group, s.error_rate, s.calls) for s in rows]


def spend(
    client: Any, filters: Filters, group_by: GroupBy = NO_GROUP, window: timedelta | None = None
) -> list[MetricValue]:
    """Total cost in USD (volume: calls)."""
    rows = summaries(client, _scoped(filters, window), group_by)
    return [MetricValue(s.group, s.cost_usd, s.calls) for s in rows]


def unpriced_share(
    client: Any, filters: Filters, group_by: GroupBy = NO_GROUP, window: timedelta | None = None
) -> list[MetricValue]:
    rows = summaries(client, _scoped(filters, window), group_by)
    return [MetricValue(s.group, s.unpriced_share, s.calls) for s in rows]


def drift_score(
    client: Any,
    filters: Filters,
    window: timedelta = timedelta(hours=1),
    baseline: timedelta = timedelta(days=7),
) -> list[MetricValue]:
    """JS distance of each tenant x route's model mix, window vs trailing baseline (volume: window calls)."""
    result = drift(client, filters, window, baseline)
    return [
        MetricValue({"tenant": r.tenant, "route": r.route}, r.js_distance, r.current_calls)
        for r in result.routes
    ]
