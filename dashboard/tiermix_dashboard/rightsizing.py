"""Right-sizing queries: ``/api/v1/opportunities`` as frames (shapes and definitions in docs/api.md)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tiermix_dashboard.api_client import ApiClient
from tiermix_dashboard.filters import Filters
from tiermix_dashboard.queries import frame

# One row per tenant x route, in the API's ranking order.
OPPORTUNITY_COLUMNS = (
    "tenant", "route", "spend_usd", "top_direct_share", "over_specified_share", "monthly_savings_low_usd",
    "monthly_savings_usd", "monthly_savings_high_usd", "confidence", "evidence_requests", "requests",
)  # fmt: skip
BAND_COLUMNS = (
    "tenant", "route", "band", "evidence", "candidate_tier", "candidate_model", "top_direct_requests",
    "top_direct_cost_usd", "tried_on_candidate", "acceptance", "acceptance_low", "acceptance_high",
    "cost_on_candidate_usd", "savings_low_usd", "savings_usd", "savings_high_usd", "unpriced_top_direct",
)  # fmt: skip
TOTAL_FIELDS = ("start", "end", "top_tier", "spend_usd", "over_specified_usd", "over_specified_share",
                "monthly_savings_low_usd", "month_factor", "routes")  # fmt: skip


def opportunities(client: ApiClient, filters: Filters) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Totals, the ranked routes and every band of every route, over the 30 days up to ``filters.end``.

    The window is the API's right-sizing default (a month of evidence), not the sidebar range."""
    params = {key: value for key, value in filters.api_params().items() if key != "start"}
    body = client.get("/api/v1/opportunities", params)
    rows = body.get("rows", [])
    routes = frame(rows, OPPORTUNITY_COLUMNS)[list(OPPORTUNITY_COLUMNS)]
    bands = frame(
        [{"tenant": row["tenant"], "route": row["route"], **band} for row in rows for band in row["bands"]],
        BAND_COLUMNS,
    )[list(BAND_COLUMNS)]
    return {name: body.get(name) for name in TOTAL_FIELDS}, routes, bands


CURVE_COLUMNS = (
    "threshold", "top_share", "cost_per_request_usd", "cost_per_request_low_usd", "cost_per_request_high_usd",
    "acceptance", "acceptance_low", "acceptance_high", "thin_share", "little_data", "current",
)  # fmt: skip
WHATIF_FIELDS = (
    "router",
    "routers",
    "direction",
    "top_model",
    "candidate_tier",
    "candidate_model",
    "requests",
    "scored_requests",
    "unscored_requests",
    "other_router_requests",
    "unpriced_requests",
    "current",
    "routellm",
    "routellm_reason",
    "reason",
)


def routing_whatif(
    client: ApiClient, filters: Filters, tenant: str, route: str, router: str | None = None
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The what-if of one tenant's route over the same 30 days as ``opportunities``: head and curve (the
    point without a threshold, nothing to the top tier, is left out: a chart has no x for it)."""
    params = {key: value for key, value in filters.api_params().items() if key != "start"}
    params.update(tenant=tenant, route=route)
    if router:
        params["router"] = router
    body = client.get("/api/v1/routing/whatif", params)
    curve = [point for point in body.get("curve", []) if point.get("threshold") is not None]
    return {name: body.get(name) for name in WHATIF_FIELDS}, frame(curve, CURVE_COLUMNS)[list(CURVE_COLUMNS)]
