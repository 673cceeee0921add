"""Chargeback: spend per tenant and month, with FinOps FOCUS column names where they apply.

FOCUS (FinOps Open Cost and Usage Specification) has no tenant column; tiermix's own columns use the
spec's ``x_`` prefix for custom columns. The range is widened to whole calendar months, so a month is
always billed whole. ``BilledCost`` and ``EffectiveCost`` are the priced cost (list price or the tenant's
override, as computed at ingest); unpriced calls are counted in ``x_UnpricedCalls`` and cost 0.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from tiermix_server.metrics.filters import Filters, Params
from tiermix_server.metrics.mix import as_utc
from tiermix_server.metrics.sources import counters_source, summed

_COUNTERS = ("calls", "requests", "unpriced", "input_tokens", "output_tokens", "cost_usd")


def month_start(value: datetime) -> datetime:
    return datetime(value.year, value.month, 1, tzinfo=timezone.utc)


def next_month(value: datetime) -> datetime:
    return datetime(value.year + value.month // 12, value.month % 12 + 1, 1, tzinfo=timezone.utc)


def whole_months(filters: Filters) -> Filters:
    start = month_start(filters.start)
    end = month_start(filters.end)
    if end < filters.end or end == start:
        end = next_month(end)
    return filters.with_range(start, end)


def chargeback(client: Any, filters: Filters) -> list[dict[str, Any]]:
    scope = whole_months(filters)
    params = Params()
    source = counters_source(scope, params, _COUNTERS, ("tenant", "provider", "model", "tier"))
    sql = (
        f"SELECT toStartOfMonth(s.bucket) AS month, s.tenant AS tenant, s.provider AS provider, "
        f"s.model AS model, s.tier AS tier, {summed(_COUNTERS)} FROM {source} "
        "GROUP BY month, tenant, provider, model, tier ORDER BY month, tenant, provider, model, tier"
    )
    rows = []
    for row in client.query(sql, parameters=params.values).named_results():
        start = month_start(as_utc(datetime.combine(row["month"], datetime.min.time())))
        rows.append(
            {
                "BillingPeriodStart": start,
                "BillingPeriodEnd": next_month(start),
                "ChargePeriodStart": max(start, scope.start),
                "ChargePeriodEnd": min(next_month(start), scope.end),
                "ChargeCategory": "Usage",
                "BillingCurrency": "USD",
                "BilledCost": row["cost_usd"],
                "EffectiveCost": row["cost_usd"],
                "ProviderName": row["provider"],
                "ResourceName": row["model"],
                "ServiceCategory": "AI and Machine Learning",
                "ConsumedQuantity": row["input_tokens"] + row["output_tokens"],
                "ConsumedUnit": "Tokens",
                "x_Tenant": row["tenant"],
                "x_Tier": row["tier"],
                "x_Calls": row["calls"],
                "x_Requests": row["requests"],
                "x_InputTokens": row["input_tokens"],
                "x_OutputTokens": row["output_tokens"],
                "x_UnpricedCalls": row["unpriced"],
            }
        )
    return rows
