"""Alert metrics through the shared metric definitions (``tiermix_server.metrics``), never our own SQL.

The API, the dashboard and the evaluator must agree on what "frontier share" means, so this module only
maps a rule's metric name onto the definitions: ``summaries`` per group for the counter-based metrics,
``drift`` for the drift score, ``opportunities`` for the over-specified spend (USD of the window's
top-direct spend a lower tier would have served, at the evidence's conservative bound), and
``budgets`` for ``budget_spent_ratio`` / ``budget_forecast_ratio`` (each budget's standing in its own
period, whatever the rule's window: a budget is about its month). The volume an
alert compares with ``min_volume`` is the number of logical requests in the window (calls, for the
drift score, which is defined over calls).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tiermix_server.alerts.notification import encode_group
from tiermix_server.alerts.rules import RuleSpec
from tiermix_server.metrics.opportunities import Quoter


@dataclass(frozen=True, slots=True)
class Sample:
    value: float | None  # None: the metric is undefined (nothing to divide by)
    volume: int  # logical requests


class MetricSource(Protocol):
    def measure(self, spec: RuleSpec, start: datetime, end: datetime) -> dict[str, Sample]:
        """The rule's metric for ``[start, end)``, per group key (``notification.encode_group``)."""
        ...


_FROM_SUMMARY: dict[str, Callable[[Any], float | None]] = {
    "frontier_share": lambda s: s.frontier_share,
    "cost_per_request": lambda s: s.cost_per_request_usd,
    "spend": lambda s: float(s.cost_usd),
    "escalation_rate": lambda s: s.escalation_rate,
    "error_rate": lambda s: s.error_rate,
    "unpriced_share": lambda s: s.unpriced_share,
}


class ClickHouseMetrics:
    """``MetricSource`` over ClickHouse using the shared definitions."""

    def __init__(
        self,
        client: Any,
        tiers: Callable[[], tuple[str, ...]],
        quote: Quoter,
        budgets: Callable[[], list[Any]] = list,
    ) -> None:
        self.client = client
        self.tiers = tiers  # the tier map in force, bottom … top, read at each measurement
        self.quote = quote  # prices for the over-specified spend (pricing.enricher.Enricher.quote)
        self.budgets = budgets  # the budgets in force (meta.budgets.list_budgets), read at each measurement

    def measure(self, spec: RuleSpec, start: datetime, end: datetime) -> dict[str, Sample]:
        from tiermix_server.metrics.filters import Filters, GroupBy

        tier_list = self.tiers()
        bottom, top = tier_list[0], tier_list[-1]
        filters = Filters(
            start=start,
            end=end,
            tenant=spec.filters.tenant,
            route=spec.filters.route,
            environment=spec.filters.environment,
            top_tier=top,
            bottom_tier=bottom,
        )
        group_by = GroupBy(tuple(spec.group_by))
        if spec.metric == "drift_score":
            return self._drift(spec, filters)
        if spec.metric == "over_specified_spend":
            return self._over_specified(spec, filters, tier_list)
        if spec.metric in ("budget_spent_ratio", "budget_forecast_ratio"):
            return self._budgets(spec, end)
        if spec.metric == "bill_coverage":
            return self._bill_coverage(start, end)
        from tiermix_server.metrics.summary import summaries

        extract = _FROM_SUMMARY[spec.metric]
        result = {}
        for summary in summaries(self.client, filters, group_by):
            if summary.calls == 0 and not summary.group:
                continue  # the all-zero row of an empty, ungrouped scope: no data, not a value of 0
            result[encode_group(summary.group)] = Sample(extract(summary), int(summary.requests))
        return result

    def _over_specified(self, spec: RuleSpec, filters: Any, tier_list: tuple[str, ...]) -> dict[str, Sample]:
        """Defined per tenant x route (metrics/opportunities.py); a coarser group adds its routes up."""
        from tiermix_server.metrics.opportunities import opportunities

        found = opportunities(self.client, filters, tier_list, self.quote)
        samples: dict[str, Sample] = {}
        for row in found.rows:
            labels = {"tenant": row.tenant, "route": row.route}
            key = encode_group({column: labels[column] for column in spec.group_by})
            previous = samples.get(key, Sample(0.0, 0))
            samples[key] = Sample(
                (previous.value or 0.0) + row.over_specified_usd, previous.volume + row.requests
            )
        return samples

    def _budgets(self, spec: RuleSpec, now: datetime) -> dict[str, Sample]:
        """Each budget whose scope the rule's filters cover, grouped by the budget's own tenant / route; a
        group holding several budgets takes the worst ratio. The volume is 1 per budget (a budget with no
        forecast yet has no value)."""
        from tiermix_server.metrics.budgets import budget_statuses

        wanted = spec.filters
        rows = [
            b for b in self.budgets()
            if wanted.tenant in (None, b.tenant) and wanted.route in (None, b.route)
        ]  # fmt: skip
        samples: dict[str, Sample] = {}
        for status in budget_statuses(self.client, rows, now):
            value = status.spent_ratio if spec.metric == "budget_spent_ratio" else status.forecast_ratio
            labels = {"tenant": status.budget.tenant or "", "route": status.budget.route or ""}
            key = encode_group({column: labels[column] for column in spec.group_by})
            previous = samples.get(key)
            if (
                previous is not None
                and previous.value is not None
                and (value is None or previous.value >= value)
            ):
                samples[key] = Sample(previous.value, previous.volume + 1)
            else:
                samples[key] = Sample(value, (previous.volume if previous else 0) + 1)
        return samples

    def _bill_coverage(self, start: datetime, end: datetime) -> dict[str, Sample]:
        """Tracked / billed over the complete UTC days of the window (a window under a day: the last
        complete day before its end). A bill is the organization's: one group, whatever ``group_by``;
        the volume is the number of days billed."""
        from datetime import timedelta

        from tiermix_server.metrics.reconciliation import reconcile

        last = end.date()  # exclusive: the day of ``end`` is not complete
        first = (start + timedelta(days=1) - timedelta(microseconds=1)).date()
        if first >= last:
            first = last - timedelta(days=1)
        found = reconcile(self.client, first, last)
        days = len({d["day"] for d in found.days if d["billed_usd"] > 0})
        return {encode_group({}): Sample(found.coverage, days)}

    def _drift(self, spec: RuleSpec, filters: Any) -> dict[str, Sample]:
        """JS distance of the model mix against the ``baseline_days`` before the window.

        Drift is defined per tenant x route; a coarser group takes its worst route (JS distances do not
        add up) and the calls of all its routes as volume.
        """
        from datetime import timedelta

        from tiermix_server.metrics.drift import drift

        window = filters.end - filters.start
        result = drift(self.client, filters, window, timedelta(days=spec.condition.baseline_days))
        samples: dict[str, Sample] = {}
        for route in result.routes:
            if route.current_calls == 0:
                continue
            labels = {"tenant": route.tenant, "route": route.route}
            key = encode_group({column: labels[column] for column in spec.group_by})
            previous = samples.get(key)
            if previous is None:
                samples[key] = Sample(route.js_distance, route.current_calls)
            else:
                worst = max(previous.value or 0.0, route.js_distance)
                samples[key] = Sample(worst, previous.volume + route.current_calls)
        return samples
