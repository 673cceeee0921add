"""Query API calls → DataFrames and small values. No Streamlit here (``cache.py`` wraps these).

Each function asks one question of the API (docs/api.md) and returns data shaped for a chart or a
table: times parsed to UTC timestamps, missing columns present (as empty) so pages never KeyError on
an empty answer. Shares and rates stay fractions; ``None`` stays ``None`` (the API's "no denominator").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pandas as pd

from tiermix_dashboard.api_client import ApiClient, ApiNotFound
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
# The columns of the Calls page's frame (a subset of the API's call fields, in display order).
CALL_FRAME_COLUMNS = (
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
    return _mix_rows(client.get("/api/v1/mix", params))


def _mix_rows(body: dict[str, Any], groups: Sequence[str] = ()) -> pd.DataFrame:
    """A ``/mix`` answer's rows (with their ``groups`` columns), plus ``tokens``."""
    rows = frame(body.get("rows", []), [*groups, *MIX_COLUMNS], times=["bucket"])
    tokens = pd.to_numeric(rows["input_tokens"]).fillna(0) + pd.to_numeric(rows["output_tokens"]).fillna(0)
    rows["tokens"] = tokens
    return rows


MIX_NUMBERS = ["calls", "requests", "answered", "input_tokens", "output_tokens", "tokens", "cost_usd"]


def mix_totals(client: ApiClient, filters: Filters, by: str, tier: str | None = None) -> pd.DataFrame:
    """One row per key over the whole range (the mix summed across buckets)."""
    rows = mix(client, filters, by=by, interval="1d", tier=tier)  # whole range: fewest buckets to sum
    if rows.empty:
        return frame([], ["key", *MIX_NUMBERS])
    return _totals(rows, ["key"])


def _totals(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``rows`` summed over their buckets per ``keys``; within the keys before ``key``, costliest first."""
    totals = rows.groupby(keys, as_index=False, observed=True)[MIX_NUMBERS].sum()
    return totals.sort_values([*keys[:-1], "cost_usd"], ascending=[*[True] * (len(keys) - 1), False],
                              ignore_index=True)  # fmt: skip


def mix_by_segment(
    client: ApiClient, filters: Filters, dimension: str, values: Sequence[str], limit: int = 12
) -> pd.DataFrame:
    """Tier totals per tenant (or route): one row per segment x tier, for the ``limit`` first values.

    One request (``/mix?group_by=``) for every segment; a collector that does not group the mix yet (it
    answers without ``group_by``) is asked once per segment instead.
    """
    wanted = list(values)[:limit]
    params = {**filters.api_params(), "by": "tier", "interval": "1d", "group_by": dimension}
    body = client.get("/api/v1/mix", params)
    if body.get("group_by") != [dimension]:
        return mix_by_segment_one_by_one(client, filters, dimension, wanted)
    rows = _mix_rows(body, [dimension])
    # Segments in the order asked, as the per-segment requests give them; each one's tiers by cost.
    rows[dimension] = pd.Categorical(rows[dimension], categories=wanted)
    data = _totals(rows.dropna(subset=[dimension]), [dimension, "key"])
    data[dimension] = data[dimension].astype(str)
    return _with_segment_shares(data, dimension)


def mix_by_segment_one_by_one(
    client: ApiClient, filters: Filters, dimension: str, values: Sequence[str]
) -> pd.DataFrame:
    """``mix_by_segment`` with one ``/mix`` request per segment (collectors before ``group_by``)."""

    def totals_of(value: str) -> pd.DataFrame:
        scoped = replace(filters, tenant=value) if dimension == "tenant" else replace(filters, route=value)
        return mix_totals(client, scoped, by="tier").assign(**{dimension: value})

    parts = [totals for totals in in_parallel(totals_of, list(values)) if not totals.empty]
    data = pd.concat(parts, ignore_index=True) if parts else frame([], [dimension, "key", *MIX_NUMBERS])
    return _with_segment_shares(data, dimension)


def _with_segment_shares(data: pd.DataFrame, dimension: str) -> pd.DataFrame:
    if data.empty:
        return frame([], [dimension, "key", *MIX_NUMBERS, "share_calls", "share_tokens", "share_cost_usd"])
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
    return frame(body.get("rows", []), CALL_FRAME_COLUMNS, times=["ts"]), body.get("next_cursor")


def request_detail(client: ApiClient, request_id: str, tenant: str | None = None) -> dict[str, Any]:
    body = dict(client.get(f"/api/v1/requests/{request_id}", {"tenant": tenant}))
    body["attempts"] = frame(body.get("attempts", []), CALL_FRAME_COLUMNS, times=["ts"])
    return body


def chargeback(client: ApiClient, filters: Filters) -> pd.DataFrame:
    return frame(client.get("/api/v1/export/chargeback", filters.api_params()).get("rows", []))


def dimensions(client: ApiClient, end: datetime, lookback_days: int = 90) -> dict[str, list[str]]:
    """Tenants, routes and environments seen in the ``lookback_days`` before ``end`` (filter pickers)."""
    wide = Filters(start=end - timedelta(days=lookback_days), end=end, preset="custom")
    try:
        body = client.get("/api/v1/dimensions", wide.api_params())
    except ApiNotFound:  # a collector older than /api/v1/dimensions: tenants and routes only
        rows = summary_by(client, wide, "tenant,route")
        found = {name: sorted(str(v) for v in rows[name].dropna().unique()) for name in ("tenant", "route")}
        return {**found, "environment": []}
    return {
        "tenant": list(body.get("tenants", [])),
        "route": list(body.get("routes", [])),
        "environment": list(body.get("environments", [])),
    }


def spend_by(client: ApiClient, filters: Filters, dimension: str) -> pd.DataFrame:
    """Spend, calls and requests per tier, model, provider, tenant or route over the whole range."""
    if dimension in ("tenant", "route"):
        rows = summary_by(client, filters, dimension).rename(columns={dimension: "key"})
        rows = rows[["key", "cost_usd", "calls", "requests", "unpriced_calls"]]
    else:
        rows = mix_totals(client, filters, dimension)[["key", "cost_usd", "calls", "requests"]]
    return rows.sort_values("cost_usd", ascending=False, ignore_index=True)
