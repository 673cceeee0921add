"""Query API calls → DataFrames and small values. No Streamlit here (``cache.py`` wraps these).

Each function asks one question of the API (docs/api.md) and returns data shaped for a chart or a
table: times parsed to UTC timestamps, missing columns present (as empty) so pages never KeyError on
an empty answer. Shares and rates stay fractions; ``None`` stays ``None`` (the API's "no denominator").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pandas as pd

from tiermix_dashboard.api_client import ApiBadRequest, ApiClient, ApiNotFound
from tiermix_dashboard.filters import Filters

T = TypeVar("T")
R = TypeVar("R")
MIX_COLUMNS = (
    "bucket",
    "key",
    "calls",
    "requests",
    "answered",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "share_calls",
    "share_cost",
    "share_answered",
)
SUMMARY_COLUMNS = (
    "calls",
    "requests",
    "answered",
    "cost_usd",
    "cost_per_request_usd",
    "frontier_share",
    "frontier_share_calls",
    "escalation_rate",
    "escalated_requests",
    "escalations",
    "failovers",
    "errors",
    "error_rate",
    "escalation_overhead_usd",
    "savings_usd",
    "baseline_cost_usd",
    "unpriced_calls",
    "unpriced_share",
    "input_tokens",
    "output_tokens",
)
COST_COLUMNS = (
    "requests",
    "calls",
    "cost_usd",
    "cost_per_request_usd",
    "p50_usd",
    "p95_usd",
    "escalation_overhead_usd",
    "baseline_model",
    "baseline_cost_usd",
    "savings_usd",
    "unpriced_calls",
)
CALL_COLUMNS = (
    "ts",
    "tenant",
    "route",
    "environment",
    "request_id",
    "attempt",
    "final",
    "escalated",
    "failover",
    "escalation_reason",
    "provider",
    "request_model",
    "model",
    "tier",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced",
    "status",
    "error_type",
    "duration_ms",
    "span_id",
    "trace_id",
)
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


def in_parallel(function: Callable[[T], R], items: Sequence[T], max_workers: int = 8) -> list[R]:
    """``[function(item) for item in items]`` with the HTTP round trips overlapping (order kept)."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(pool.map(function, items))


def frame(
    rows: Iterable[dict[str, Any]], columns: Sequence[str] = (), times: Sequence[str] = ()
) -> pd.DataFrame:
    """Rows → DataFrame with at least ``columns``; ``times`` columns parsed as UTC timestamps."""
    data = pd.DataFrame(list(rows))
    for column in columns:
        if column not in data.columns:
            data[column] = pd.Series(dtype="object")
    for column in times:
        if column in data.columns:
            data[column] = pd.to_datetime(data[column], utc=True, format="ISO8601")
    return data


def summary(client: ApiClient, filters: Filters) -> dict[str, Any]:
    body = client.get("/api/v1/summary", filters.api_params())
    return {name: body.get(name) for name in SUMMARY_COLUMNS}


def summary_by(client: ApiClient, filters: Filters, group_by: str) -> pd.DataFrame:
    body = client.get("/api/v1/summary", {**filters.api_params(), "group_by": group_by})
    return frame(body.get("rows", []), [*group_by.split(","), *SUMMARY_COLUMNS])


def data_health(client: ApiClient, filters: Filters) -> dict[str, Any]:
    return dict(client.get("/api/v1/health/data", filters.api_params()))


def mix(
    client: ApiClient,
    filters: Filters,
    by: str = "tier",
    interval: str | None = None,
    tier: str | None = None,
) -> pd.DataFrame:
    """Tier (or model, provider) mix per time bucket; ``tokens`` = input + output tokens."""
    params = {**filters.api_params(), "by": by, "interval": interval or filters.interval(), "tier": tier}
    rows = frame(client.get("/api/v1/mix", params).get("rows", []), MIX_COLUMNS, times=["bucket"])
    tokens = pd.to_numeric(rows["input_tokens"]).fillna(0) + pd.to_numeric(rows["output_tokens"]).fillna(0)
    rows["tokens"] = tokens
    return rows


MIX_NUMBERS = ["calls", "requests", "answered", "input_tokens", "output_tokens", "tokens", "cost_usd"]


def mix_totals(client: ApiClient, filters: Filters, by: str, tier: str | None = None) -> pd.DataFrame:
    """One row per key over the whole range (the mix summed across buckets)."""
    rows = mix(client, filters, by=by, interval="1d", tier=tier)  # whole range: fewest buckets to sum
    if rows.empty:
        return frame([], ["key", *MIX_NUMBERS])
    totals = rows.groupby("key", as_index=False)[MIX_NUMBERS].sum()
    return totals.sort_values("cost_usd", ascending=False, ignore_index=True)


def mix_by_segment(
    client: ApiClient, filters: Filters, dimension: str, values: Sequence[str], limit: int = 12
) -> pd.DataFrame:
    """Tier totals per tenant (or route): one row per segment x tier, for the ``limit`` first values."""
    from dataclasses import replace

    def totals_of(value: str) -> pd.DataFrame:
        scoped = replace(filters, tenant=value) if dimension == "tenant" else replace(filters, route=value)
        return mix_totals(client, scoped, by="tier").assign(**{dimension: value})

    parts = [totals for totals in in_parallel(totals_of, list(values)[:limit]) if not totals.empty]
    if not parts:
        return frame([], [dimension, "key", *MIX_NUMBERS, "share_calls", "share_tokens", "share_cost_usd"])
    data = pd.concat(parts, ignore_index=True)
    for measure in ("calls", "tokens", "cost_usd"):
        totals = data.groupby(dimension)[measure].transform("sum")
        data[f"share_{measure}"] = data[measure] / totals.where(totals > 0)
    return data


def cost(
    client: ApiClient, filters: Filters, group_by: str | None = None, interval: str | None = None
) -> tuple[pd.DataFrame, int]:
    """Cost per request rows, and the percentile sample rate (1 = every request)."""
    params = {**filters.api_params(), "group_by": group_by, "interval": interval}
    body = client.get("/api/v1/cost", params)
    keys = group_by.split(",") if group_by else []
    rows = frame(body.get("rows", []), [*keys, *COST_COLUMNS], times=["bucket"] if interval else [])
    if "baseline_models" in rows.columns:  # a route may be priced against several baseline models
        rows["baseline_model"] = rows["baseline_models"].map(
            lambda models: ", ".join(models) if isinstance(models, list) else models
        )
    return rows, int(body.get("percentile_sample_rate") or 1)


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


def tier_flows(client: ApiClient, filters: Filters) -> tuple[pd.DataFrame, bool]:
    """Requests from first-attempt tier to answering tier, and whether the pairs are exact.

    With ``flows`` in the escalations answer the pairs are exact; otherwise the per-tier marginals
    from ``/mix`` (requests started on a tier, requests answered on it) are returned with ``False``.
    """
    body = client.get("/api/v1/escalations", filters.api_params())
    if body.get("flows"):
        return frame(body["flows"], ["first_tier", "final_tier", "requests"]), True
    totals = mix_totals(client, filters, "tier")
    marginals = totals.melt(
        id_vars=["key"], value_vars=["requests", "answered"], var_name="stage", value_name="count"
    )
    marginals["stage"] = marginals["stage"].map({"requests": "1. first attempt", "answered": "2. answered"})
    return marginals.rename(columns={"key": "tier"}), False


def escalation_reasons_over_time(client: ApiClient, filters: Filters, max_buckets: int = 8) -> pd.DataFrame:
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
    from dataclasses import replace

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
        timedelta(days=1),
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
    from dataclasses import replace

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


def calls_page(
    client: ApiClient,
    filters: Filters,
    *,
    limit: int = 100,
    cursor: str | None = None,
    request_id: str | None = None,
    status: str | None = None,
    model: str | None = None,
    tier: str | None = None,
) -> tuple[pd.DataFrame, str | None]:
    params = {
        **filters.api_params(),
        "limit": limit,
        "cursor": cursor,
        "request_id": request_id,
        "status": status,
        "model": model,
        "tier": tier,
    }
    body = client.get("/api/v1/calls", params)
    return frame(body.get("rows", []), CALL_COLUMNS, times=["ts"]), body.get("next_cursor")


def request_detail(client: ApiClient, request_id: str, tenant: str | None = None) -> dict[str, Any]:
    body = dict(client.get(f"/api/v1/requests/{request_id}", {"tenant": tenant}))
    body["attempts"] = frame(body.get("attempts", []), CALL_COLUMNS, times=["ts"])
    return body


def chargeback(client: ApiClient, filters: Filters) -> pd.DataFrame:
    return frame(client.get("/api/v1/export/chargeback", filters.api_params()).get("rows", []))


def dimensions(client: ApiClient, end: datetime, lookback_days: int = 90) -> dict[str, list[str]]:
    """Tenants, routes and environments seen in the ``lookback_days`` before ``end`` (filter pickers)."""
    wide = Filters(start=end - timedelta(days=lookback_days), end=end, preset="custom")
    rows = summary_by(client, wide, "tenant,route")
    options = {name: sorted(str(v) for v in rows[name].dropna().unique()) for name in ("tenant", "route")}
    try:
        environments = summary_by(client, wide, "environment")["environment"]
        options["environment"] = sorted(str(v) for v in environments.dropna().unique())
    except ApiBadRequest:
        options["environment"] = []  # this API cannot group by environment: the picker offers "All" only
    return options


def spend_by(client: ApiClient, filters: Filters, dimension: str) -> pd.DataFrame:
    """Spend, calls and requests per tier, model, provider, tenant or route over the whole range."""
    if dimension in ("tenant", "route"):
        rows = summary_by(client, filters, dimension).rename(columns={dimension: "key"})
        rows = rows[["key", "cost_usd", "calls", "requests", "unpriced_calls"]]
    else:
        rows = mix_totals(client, filters, dimension)[["key", "cost_usd", "calls", "requests"]]
    return rows.sort_values("cost_usd", ascending=False, ignore_index=True)


def models_seen(client: ApiClient, filters: Filters) -> pd.DataFrame:
    """Each served model with the tier its calls were stored under, volume, spend and blended $/1M tokens."""

    def models_on(tier: str) -> pd.DataFrame:
        return mix_totals(client, filters, "model", tier=tier).assign(tier=tier)

    tiers = [str(tier) for tier in mix_totals(client, filters, "tier")["key"]]
    parts = [models for models in in_parallel(models_on, tiers) if not models.empty]
    if not parts:
        return frame([], ["model", "tier", "calls", "tokens", "cost_usd", "usd_per_mtok"])
    data = pd.concat(parts, ignore_index=True).rename(columns={"key": "model"})
    data["usd_per_mtok"] = data["cost_usd"] / data["tokens"].where(data["tokens"] > 0) * 1e6
    return data[["model", "tier", "calls", "tokens", "cost_usd", "usd_per_mtok"]]


ADMIN_PATH = "/api/v1/admin"
TIER_COLUMNS = ("name", "rank", "band_max_usd_per_mtok", "description")
RULE_COLUMNS = ("source", "priority", "model_pattern", "provider_pattern", "syntax", "tier", "note")
OVERRIDE_COLUMNS = ("tenant", "provider", "model", "kind", "discount_pct", "input_usd_per_mtok",
                    "output_usd_per_mtok", "effective_from", "note")  # fmt: skip


def tier_map(client: ApiClient) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ordered tiers and every tier-map rule, yours first then the shipped defaults, in the order
    they are tried (highest priority first). Admin API (docs/admin-api.md)."""
    body = client.get(f"{ADMIN_PATH}/tiers")
    tiers = frame(body.get("tiers", []), TIER_COLUMNS)
    rules = [{**rule, "source": "yours"} for rule in body.get("rules", [])]
    rules += [{**rule, "source": "default"} for rule in body.get("default_rules", [])]
    table = frame(rules, RULE_COLUMNS)
    table = table.sort_values("priority", ascending=False, kind="stable", ignore_index=True)
    return tiers[list(TIER_COLUMNS)], table[list(RULE_COLUMNS)]


def price_overrides(client: ApiClient) -> pd.DataFrame:
    return frame(client.get(f"{ADMIN_PATH}/prices").get("overrides", []), OVERRIDE_COLUMNS)


def explain_model(client: ApiClient, model: str, provider: str | None = None) -> dict[str, Any]:
    """Which rule or price band puts ``model`` in its tier, and its price today (admin API)."""
    explained = dict(client.get(f"{ADMIN_PATH}/tiers/explain", {"model": model, "provider": provider}))
    try:
        explained["price"] = client.get(f"{ADMIN_PATH}/prices/quote", {"model": model, "provider": provider})
    except ApiNotFound:
        explained["price"] = None
    return explained


def unpriced_models(client: ApiClient, filters: Filters) -> pd.DataFrame:
    return frame(data_health(client, filters).get("unpriced_models", []), ["provider", "model", "calls"])
