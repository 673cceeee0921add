"""Headline numbers and their change against the previous period. Pure: dicts and frames in, values out.

A rate's change is shown in percentage points (``+2.1 pp``), a count's or amount's change in percent;
``None`` (no denominator, no baseline price) is shown as "n/a", never as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import pandas as pd

from tiermix_dashboard.formats import money_text

Kind = Literal["count", "money", "unit_money", "share"]
DeltaColour = Literal["normal", "inverse", "off"]


@dataclass(frozen=True, slots=True)
class Kpi:
    label: str
    value: float | None
    text: str
    delta: str | None
    delta_colour: DeltaColour
    help: str
    arrow: bool = True  # False: the delta line is context (an interval), not a change up or down


# (field, label, kind, colour of an increase, help). "inverse": a rise is bad news for FinOps.
_HEADLINES: tuple[tuple[str, str, Kind, DeltaColour, str], ...] = (
    ("requests", "Requests", "count", "off", "Logical requests (a cascade of attempts counts once)."),
    ("cost_usd", "Spend", "money", "inverse", "Cost of all calls, all attempts included (USD)."),
    (
        "cost_per_request_usd",
        "Cost per request",
        "unit_money",
        "inverse",
        "Mean cost of a logical request, every attempt of a cascade summed (USD).",
    ),
    (
        "frontier_share",
        "Frontier share",
        "share",
        "inverse",
        "Share of answered requests whose final answer came from the top tier.",
    ),
    (
        "escalation_rate",
        "Escalation rate",
        "share",
        "inverse",
        "Requests escalated to a higher tier / requests that started below the top tier.",
    ),
    (
        "savings_usd",
        "Savings (estimate)",
        "money",
        "normal",
        "Estimate: what the answered requests would have cost on the route's top-tier model, minus actual "
        "spend. Uses list prices; not an invoice figure.",
    ),
    (
        "unpriced_calls",
        "Unpriced calls",
        "count",
        "inverse",
        "Calls with no price match: their cost is unknown (not counted as $0). See Prices & tiers.",
    ),
    (
        "sdk_dropped",
        "Dropped calls",
        "count",
        "inverse",
        "Calls the SDKs reported dropping (queue full, export failed): not in any figure here.",
    ),
)


def headline_kpis(current: Mapping[str, Any], previous: Mapping[str, Any]) -> list[Kpi]:
    return _kpis(_HEADLINES, current, previous)


def _kpis(
    headlines: tuple[tuple[str, str, Kind, DeltaColour, str], ...],
    current: Mapping[str, Any],
    previous: Mapping[str, Any],
) -> list[Kpi]:
    kpis = []
    for name, label, kind, colour, help_text in headlines:
        change = format_change(current.get(name), previous.get(name), kind)
        # "no change" is neither good nor bad news: grey, whatever a rise would mean
        shown_colour: DeltaColour = "off" if change is not None and change.startswith("±") else colour
        value = current.get(name)
        kpis.append(Kpi(label, _num(value), format_value(value, kind), change, shown_colour, help_text))
    return kpis


def format_value(value: Any, kind: Kind) -> str:
    number = _num(value)
    if number is None:
        return "n/a"
    if kind == "share":
        return f"{number:.1%}"
    if kind == "money":
        return money_text(number)
    if kind == "unit_money":  # per-request amounts: at least four decimals below a dollar
        return money_text(number, min_decimals=2 if abs(number) >= 1 else 4)
    return f"{number:,.0f}"


def format_change(value: Any, before: Any, kind: Kind) -> str | None:
    now, then = _num(value), _num(before)
    if now is None or then is None:
        return None
    if kind == "share":
        points = round((now - then) * 100, 1)
        return "±0.0 pp vs previous" if points == 0 else f"{points:+.1f} pp vs previous"
    if then == 0:
        return None if now == 0 else "new vs previous"
    ratio = round((now - then) / abs(then), 3)
    if ratio == 0:
        return "±0% vs previous"
    if then > 0 and now / then >= 10:  # "+16813%" reads as noise; a multiple is what people say
        return f"{now / then:,.0f}x previous"
    return f"{ratio:+.1%} vs previous"


def top_movers(current: pd.DataFrame, previous: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """Tenant-and-route segments ranked by how much their spend moved against the previous period."""
    keys = ["tenant", "route"]
    wanted = [*keys, "requests", "cost_usd", "frontier_share"]
    now = current.reindex(columns=wanted)
    then = previous.reindex(columns=wanted)
    both = now.merge(then, on=keys, how="outer", suffixes=("", "_previous"))
    for column in ("requests", "cost_usd", "requests_previous", "cost_usd_previous"):
        both[column] = pd.to_numeric(both[column], errors="coerce").fillna(0.0)
    both["spend_change_usd"] = both["cost_usd"] - both["cost_usd_previous"]
    change = pd.to_numeric(both["frontier_share"], errors="coerce") - pd.to_numeric(
        both["frontier_share_previous"], errors="coerce"
    )
    both["frontier_share_change_pp"] = change * 100
    both = both.assign(_size=both["spend_change_usd"].abs()).sort_values("_size", ascending=False)
    columns = [
        *keys,
        "requests",
        "requests_previous",
        "cost_usd",
        "cost_usd_previous",
        "spend_change_usd",
        "frontier_share",
        "frontier_share_previous",
        "frontier_share_change_pp",
    ]
    return both[columns].head(limit).reset_index(drop=True)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN is "no value"


def trend_from_mix(mix: pd.DataFrame, top_tier: str | None) -> pd.DataFrame:
    """Per bucket: requests, spend, and frontier share (answered requests on ``top_tier``)."""
    if mix.empty:
        return pd.DataFrame(columns=["bucket", "requests", "cost_usd", "answered", "frontier_share"])
    data = mix.assign(_top=mix["answered"].where(mix["key"] == top_tier, 0))
    per_bucket = data.groupby("bucket", as_index=False)[["requests", "cost_usd", "answered", "_top"]].sum()
    answered = per_bucket["answered"].where(per_bucket["answered"] > 0)
    per_bucket["frontier_share"] = per_bucket["_top"] / answered
    # every attempt's cost over the requests that started in the bucket (the summary's definition)
    per_bucket["cost_per_request_usd"] = per_bucket["cost_usd"] / per_bucket["requests"].where(
        per_bucket["requests"] > 0
    )
    return per_bucket.drop(columns="_top")


def tier_share_kpis(
    mix: pd.DataFrame, mix_before: pd.DataFrame, tier_list: list[str], measure: str = "calls"
) -> list[Kpi]:
    """Each tier's share of ``measure`` (calls, tokens, cost_usd) over the whole range, with its change
    against the previous period in percentage points: the mix as numbers, cheapest tier first."""
    what = {"calls": "calls", "tokens": "tokens", "cost_usd": "spend"}.get(measure, measure)

    def shares(rows: pd.DataFrame) -> dict[str, float]:
        if rows.empty:
            return {}
        per_tier = pd.to_numeric(rows[measure], errors="coerce").fillna(0).groupby(rows["key"]).sum()
        total = float(per_tier.sum())
        return {str(key): float(value) / total for key, value in per_tier.items()} if total else {}

    now, before = shares(mix), shares(mix_before)
    seen = [tier for tier in tier_list if tier in now] + sorted(set(now) - set(tier_list))
    return [
        Kpi(
            f"{tier} tier",
            now[tier],
            format_value(now[tier], "share"),
            format_change(now[tier], before.get(tier, 0.0) if before else None, "share"),
            "off",
            f"Share of all {what} of the {tier} tier in this range (every attempt counts).",
        )
        for tier in seen
    ]


def per_request_statistics(per_route: pd.DataFrame) -> pd.DataFrame:
    """Cost-per-request rows → long form (route, statistic = mean/p50/p95, usd) for a grouped bar chart."""
    names = {"cost_per_request_usd": "mean", "p50_usd": "p50", "p95_usd": "p95"}
    long = per_route.melt(id_vars=["route"], value_vars=list(names), var_name="statistic", value_name="usd")
    long["statistic"] = long["statistic"].map(names)
    long["usd"] = pd.to_numeric(long["usd"], errors="coerce")
    return long


_ESCALATION_HEADLINES: tuple[tuple[str, str, Kind, DeltaColour, str], ...] = (
    (
        "escalation_rate",
        "Escalation rate",
        "share",
        "inverse",
        "Requests escalated to a higher tier / requests that started below the top tier.",
    ),
    (
        "escalated_requests",
        "Escalated requests",
        "count",
        "inverse",
        "Requests with at least one escalation to a higher tier.",
    ),
    (
        "failovers",
        "Failovers",
        "count",
        "inverse",
        "Error-driven retries on the same tier or another provider (not counted as escalations).",
    ),
    (
        "escalation_overhead_usd",
        "Escalation overhead",
        "money",
        "inverse",
        "Cost of the attempts that were abandoned for a higher tier (USD).",
    ),
)


def escalation_kpis(current: Mapping[str, Any], previous: Mapping[str, Any]) -> list[Kpi]:
    return _kpis(_ESCALATION_HEADLINES, current, previous)


def first_row(rows: pd.DataFrame) -> dict[str, Any]:
    """The one row of an ungrouped answer, or ``{}`` when the API returned none."""
    return {} if rows.empty else {str(key): value for key, value in rows.iloc[0].items()}


def blank_scores_without_baseline(rows: pd.DataFrame) -> pd.DataFrame:
    """A segment with no baseline calls has nothing to be distant from: its JS distance and PSI are
    missing (shown as a dash), not 1.000."""
    if rows.empty:
        return rows
    shown = rows.copy()
    none = pd.to_numeric(shown["baseline_calls"], errors="coerce").fillna(0) == 0
    for column in ("js_distance", "psi"):
        shown[column] = shown[column].astype("float64").where(~none)
    return shown


def new_model_events(daily: pd.DataFrame) -> pd.DataFrame:
    """One row per (period, tenant, route, model) where a model absent from the baseline was served."""
    columns = ["period", "tenant", "route", "model", "current_calls"]
    if daily.empty:
        return pd.DataFrame(columns=columns)
    exploded = daily[["period", "tenant", "route", "new_models", "current_calls"]].explode("new_models")
    exploded = exploded.dropna(subset=["new_models"]).rename(columns={"new_models": "model"})
    return exploded[columns].sort_values("period", ascending=False, ignore_index=True)


def decomposition_steps(share: Mapping[str, Any]) -> list[tuple[str, float | None, str]]:
    """Frontier-share change as waterfall steps: baseline, traffic shift, routing shift, now."""
    return [
        ("Baseline (7 days)", _num(share.get("baseline")), "absolute"),
        ("Traffic shift", _num(share.get("traffic_shift")), "relative"),
        ("Routing shift", _num(share.get("routing_shift")), "relative"),
        ("Current window", _num(share.get("current")), "total"),
    ]


def mark_complete(rows: pd.DataFrame, start: datetime, end: datetime, bucket: timedelta) -> pd.DataFrame:
    """Add ``complete``: the bucket lies wholly inside ``[start, end)``. A half-filled first or current
    bucket would read as a drop in a trend line; charts draw those points apart."""
    if rows.empty:
        return rows.assign(complete=pd.Series(dtype=bool))
    starts = pd.to_datetime(rows["bucket"], utc=True)
    inside = (starts >= pd.Timestamp(start)) & (starts + pd.Timedelta(bucket) <= pd.Timestamp(end))
    return rows.assign(complete=inside.to_numpy())


def largest_contributions(segments: pd.DataFrame, limit: int = 15) -> pd.DataFrame:
    """Segments ordered by how much they moved the overall frontier share, shifts in percentage points."""
    columns = ["tenant", "route", "weight_baseline", "weight_current", "share_baseline", "share_current"]
    if segments.empty:
        return pd.DataFrame(columns=[*columns, "traffic_shift_pp", "routing_shift_pp"])
    data = segments.assign(
        traffic_shift_pp=pd.to_numeric(segments["traffic_shift"], errors="coerce") * 100,
        routing_shift_pp=pd.to_numeric(segments["routing_shift"], errors="coerce") * 100,
    )
    size = (data["traffic_shift_pp"].fillna(0) + data["routing_shift_pp"].fillna(0)).abs()
    data = data.assign(_size=size).sort_values("_size", ascending=False)
    return data[[*columns, "traffic_shift_pp", "routing_shift_pp"]].head(limit).reset_index(drop=True)


MIN_BASELINE_CALLS = 20


def scored_segments(
    daily: pd.DataFrame, min_baseline_calls: int = MIN_BASELINE_CALLS
) -> tuple[pd.DataFrame, int]:
    """Drift rows with enough baseline traffic to compare with, and how many had too little. Against an
    (almost) empty baseline every model is "new" and the distance is near 1: noise, not drift."""
    if daily.empty or "baseline_calls" not in daily:
        return daily, 0
    has_baseline = pd.to_numeric(daily["baseline_calls"], errors="coerce").fillna(0) >= min_baseline_calls
    return daily[has_baseline].reset_index(drop=True), int((~has_baseline).sum())


def health_warnings(health: Mapping[str, Any]) -> list[str]:
    """What data health says the numbers on the page may be missing, one sentence each (none: empty)."""
    notes: list[str] = []
    refused = {str(k): int(v) for k, v in (health.get("refused_requests") or {}).items() if v}
    if refused:
        parts = ", ".join(
            f"{n:,} with HTTP {status.removeprefix('http_')}" for status, n in sorted(refused.items())
        )
        why = (
            " (401/403: a sender with a wrong or revoked API key)"
            if {"http_401", "http_403"} & set(refused)
            else ""
        )
        notes.append(
            f"The collector refused {sum(refused.values()):,} export requests: {parts}{why}. "
            "The calls in them are not counted here."
        )
    for key, text in (
        ("storage_refused", "calls were refused by ClickHouse and set aside in the collector's spool"),
        ("spool_corrupt_records", "spool records failed their checksum: the calls in them are lost"),
    ):
        value = int(health.get(key) or 0)
        if value:
            notes.append(f"{value:,} {text}.")
    return notes
