"""Escalations and drift through the query API → DataFrames (no Streamlit).

Some views need several API answers: reasons over time are the escalations of each time slice, and the
route x day drift heatmap is one drift window per day. Those calls are independent, so they overlap
(``in_parallel``); each function still returns one frame shaped for its chart.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from tiermix_dashboard.api_client import ApiClient
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


def escalation_reasons_over_time(client: ApiClient, filters: Filters, max_buckets: int = 6) -> pd.DataFrame:
    """Reasons per time slice: the range cut into at most ``max_buckets`` equal slices."""

    def reasons_in(part: Filters) -> pd.DataFrame:
        return escalations(client, part)[1].assign(bucket=part.start)

    parts = [
        reasons for reasons in in_parallel(reasons_in, time_slices(filters, max_buckets)) if not reasons.empty
    ]
    if not parts:
        return frame([], ["bucket", "kind", "reason", "attempts", "cost_usd"])
    return pd.concat(parts, ignore_index=True)


def time_slices(filters: Filters, max_buckets: int) -> list[Filters]:

    step = _nice_step(filters.duration / max_buckets)
    start, slices = filters.start, []
    while start < filters.end:
        end = min(start + step, filters.end)
        slices.append(replace(filters, start=start, end=end, preset="custom"))
        start = end
    return slices


def _nice_step(raw: timedelta) -> timedelta:
    for step in (
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(hours=6),
        timedelta(hours=12),
        timedelta(days=1),
        timedelta(days=2),
        timedelta(days=7),
    ):
        if raw <= step:
            return step
    return timedelta(days=30)


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


def drift_by_day(client: ApiClient, filters: Filters, min_days: int = 7, max_days: int = 14) -> pd.DataFrame:
    """Drift per tenant and route for each UTC day: the day's mix against the 7 days before it.

    At least ``min_days`` days (a heatmap of one day says nothing), at most ``max_days``; the day that
    holds the range end counts up to the end only.
    """

    days = max(min_days, min(max_days, math.ceil(filters.duration / timedelta(days=1))))
    last_day = (filters.end - timedelta(microseconds=1)).replace(hour=0, minute=0, second=0, microsecond=0)

    def drift_on(day_start: datetime) -> pd.DataFrame:
        window_end = min(day_start + timedelta(days=1), filters.end)
        window_s = int((window_end - day_start).total_seconds())
        scoped = replace(filters, end=window_end, preset="custom")
        return drift(client, scoped, window=f"{window_s}s", baseline="7d")["rows"].assign(
            day=f"{day_start:%Y-%m-%d}"
        )

    starts = [last_day - timedelta(days=back) for back in range(days)]
    parts = [rows for rows in in_parallel(drift_on, starts) if not rows.empty]
    if not parts:
        return frame([], ["day", *DRIFT_COLUMNS])
    return pd.concat(parts, ignore_index=True).sort_values("day", ignore_index=True)
