"""Budget queries: ``/api/v1/budgets`` as frames (shapes in docs/budgets.md). No Streamlit here."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tiermix_dashboard.api_client import ApiClient
from tiermix_dashboard.kpis import format_value
from tiermix_dashboard.queries import frame

BUDGET_COLUMNS = (
    "id", "scope", "period", "amount_usd", "spent_usd", "spent_ratio", "forecast", "forecast_share", "burn",
    "runs_out", "note",
)  # fmt: skip


def budgets(client: ApiClient, tenant: str | None) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """One row per budget, plus the API's statuses (for the chart of one budget)."""
    statuses = list(client.get("/api/v1/budgets", {"tenant": tenant}).get("budgets", []))
    return frame([budget_row(s) for s in statuses], BUDGET_COLUMNS)[list(BUDGET_COLUMNS)], statuses


def scope_of(budget: dict[str, Any]) -> str:
    tenant = budget.get("tenant") or "every tenant"
    return f"{tenant} / {budget['route']}" if budget.get("route") else tenant


def budget_row(status: dict[str, Any]) -> dict[str, Any]:
    b = status["budget"]
    forecast = status.get("forecast") or {}
    if status.get("exceeded_on"):
        runs_out = f"exceeded {status['exceeded_on']}"
    else:
        runs_out = status.get("runs_out_on") or "not in this period"
    return {
        "id": b["id"],
        "scope": scope_of(b) + (f" ({b['name']})" if b.get("name") else ""),
        "period": f"{status['period_start']} to {status['period_end']}",
        "amount_usd": b["amount_usd"],
        "spent_usd": status["spent_usd"],
        "spent_ratio": status["spent_ratio"],
        # text, so a budget with no forecast yet says so instead of showing an empty number
        "forecast": interval_text(forecast) if forecast else "none yet (no complete day of spend)",
        "forecast_share": f"{status['forecast_ratio']:.0%}" if forecast else "—",
        "burn": format_value(status["burn_rate_usd_per_day"], "money")
        if status.get("burn_rate_usd_per_day") is not None
        else "—",
        "runs_out": runs_out,
        "note": status.get("note") or "—",
    }


def interval_text(forecast: dict[str, Any]) -> str:
    point, low, high = (format_value(forecast[k], "money") for k in ("point_usd", "low_usd", "high_usd"))
    return f"{point} ({low} to {high})"


def cumulative(status: dict[str, Any]) -> pd.DataFrame:
    """Day → cumulative spend (``kind`` spent) then the forecast's cumulative path (``kind`` forecast)."""
    rows, running = [], 0.0
    for point in status.get("spent_by_day", []):
        running += point["usd"]
        rows.append({"day": point["day"], "usd": running, "kind": "spent"})
    for point in status.get("forecast_by_day", []):
        running += point["usd"]
        rows.append({"day": point["day"], "usd": running, "kind": "forecast"})
    data = frame(rows, ("day", "usd", "kind"))
    if not data.empty:
        data["day"] = pd.to_datetime(data["day"], utc=True)
    return data
