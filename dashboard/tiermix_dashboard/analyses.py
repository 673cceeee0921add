"""Escalations and drift through the query API → DataFrames (no Streamlit).

Some views need several API answers: the route x time drift heatmap is one drift window per cell.
Those calls are independent, so they overlap (``in_parallel``); each function still returns one frame
shaped for its chart.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from tiermix_dashboard import alert_rules
from tiermix_dashboard.api_client import ApiClient, ApiNotFound
from tiermix_dashboard.filters import Filters
from tiermix_dashboard.queries import frame, in_parallel, mix_totals

DRIFT_COLUMNS = (
    "tenant",
    "route",
    "baseline_calls",
    "current_calls",
    "js_distance",
    "psi",
    "drifted",
    "new_models",
    "frontier_share_baseline",
    "frontier_share_current",
)
SEGMENT_COLUMNS = (
    "tenant",
    "route",
    "weight_baseline",
    "weight_current",
    "share_baseline",
    "share_current",
    "traffic_shift",
    "routing_shift",
)


def escalations(
    client: ApiClient, filters: Filters, group_by: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-group escalation rows, attempts and cost by kind and reason)."""
    body = client.get("/api/v1/escalations", {**filters.api_params(), "group_by": group_by})
    keys = group_by.split(",") if group_by else []
    rows = frame(
        body.get("rows", []),
        [
            *keys,
            "requests",
            "eligible_requests",
            "escalated_requests",
            "escalation_rate",
            "escalations",
            "failovers",
            "escalation_overhead_usd",
            "failover_cost_usd",
        ],
    )
    reasons = frame(body.get("by_reason", []), [*keys, "kind", "reason", "attempts", "cost_usd"])
    return rows, reasons


def tier_funnel(client: ApiClient, filters: Filters) -> pd.DataFrame:
    """Per tier: requests whose first attempt ran on it, and requests it answered (``/mix`` marginals).

    A tier answering more requests than start on it receives escalated traffic. (The exact pairs, first
    tier -> answering tier, would need a per-request count the API does not serve yet.)
    """
    totals = mix_totals(client, filters, "tier")
    funnel = totals.melt(
        id_vars=["key"], value_vars=["requests", "answered"], var_name="stage", value_name="count"
    )
    funnel["stage"] = funnel["stage"].map({"requests": "1. first attempt", "answered": "2. answered"})
    return funnel.rename(columns={"key": "tier"})


def escalation_reasons_over_time(client: ApiClient, filters: Filters) -> pd.DataFrame:
    """Abandoned attempts by kind and reason per time bucket: the clock-aligned buckets of every other
    chart (``filters.interval()``), each at its own start."""
    params = {**filters.api_params(), "interval": filters.interval(), "view": "over_time"}
    body = client.get("/api/v1/escalations", params)
    return frame(
        body.get("over_time", []), ["bucket", "kind", "reason", "attempts", "cost_usd"], times=["bucket"]
    )


def drift(client: ApiClient, filters: Filters, window: str = "1d", baseline: str = "7d") -> dict[str, Any]:
    """Drift rows (per tenant and route), and the frontier-share decomposition with its segments."""
    params = {**filters.api_params(), "window": window, "baseline": baseline}
    params["start"] = params["end"]  # drift ignores start (window and baseline end at end); keep it valid
    body = client.get("/api/v1/drift", params)
    share = dict(body.get("frontier_share") or {})
    return {
        "rows": frame(body.get("rows", []), DRIFT_COLUMNS),
        "segments": frame(share.pop("by_segment", []), SEGMENT_COLUMNS),
        "frontier_share": share,
        "window_start": body.get("window_start"),
        "window_end": body.get("window_end"),
        "js_threshold": body.get("js_threshold"),
    }


def drift_periods(client: ApiClient, filters: Filters, max_periods: int = 31) -> pd.DataFrame:
    """Drift per tenant and route for each period of the range: hours when the range is two days or
    less, else UTC days (the latest ``max_periods``). Each period's mix is scored against the 7 days
    before it; the period holding the range end counts up to the end only, the one holding its start
    from the start only, so the heatmap covers the range the header names and nothing else."""
    hourly = filters.duration <= timedelta(days=2)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    label = "%m-%d %H:00" if hourly else "%Y-%m-%d"
    first = filters.start.replace(minute=0, second=0, microsecond=0)
    if not hourly:
        first = first.replace(hour=0)
    starts = []
    moment = first
    while moment < filters.end:
        starts.append(moment)
        moment += step
    starts = starts[-max_periods:]

    def drift_in(period_start: datetime) -> pd.DataFrame:
        window_start = max(period_start, filters.start)
        window_end = min(period_start + step, filters.end)
        window_s = max(1, int((window_end - window_start).total_seconds()))
        scoped = replace(filters, end=window_end, preset="custom")
        return drift(client, scoped, window=f"{window_s}s", baseline="7d")["rows"].assign(
            period=f"{period_start:{label}}",
            period_middle=pd.Timestamp(period_start + step / 2),  # where the cell sits on a time axis
        )

    parts = [rows for rows in in_parallel(drift_in, starts) if not rows.empty]
    if not parts:
        return frame([], ["period", "period_middle", *DRIFT_COLUMNS])
    return pd.concat(parts, ignore_index=True).sort_values("period", ignore_index=True)


def firing_alerts(client: ApiClient, tenant: str | None = None) -> pd.DataFrame:
    """Alert instances firing now (all, or those of ``tenant`` and those not split by tenant), each
    value in its metric's unit; empty when this API has no alerts."""
    try:
        rules = alert_rules.list_rules(client)
        states = alert_rules.states(client, rules)
    except ApiNotFound:
        return frame([], [*alert_rules.STATE_COLUMNS, "tenant"])
    firing = states[states["state"] == "firing"]
    if tenant:
        firing = firing[firing["tenant"].isna() | (firing["tenant"] == tenant)]
    return firing.reset_index(drop=True)
