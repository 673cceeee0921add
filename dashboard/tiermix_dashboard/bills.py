"""Reconciliation queries: ``/api/v1/reconciliation`` as frames (docs/reconciliation.md). No Streamlit."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from tiermix_dashboard.api_client import ApiClient
from tiermix_dashboard.kpis import format_value
from tiermix_dashboard.queries import frame

DAY_COLUMNS = ("day", "provider", "billed_usd", "tracked_usd", "gap_usd", "coverage", "causes")
ROW_COLUMNS = ("day", "provider", "model", "billed_usd", "tracked_usd", "gap_usd", "coverage", "calls",
               "unpriced_calls", "usage_less_calls", "tracked_tokens", "billed_tokens", "causes")  # fmt: skip
# What each cause means, in a FinOps reader's words (one definition: metrics/reconciliation.py's order).
CAUSES = {
    "absent_from_telemetry": "billed models no call recorded",
    "absent_from_bill": "recorded calls of models the bill does not list",
    "usage_less_calls": "calls that returned no usage",
    "unpriced_calls": "calls of models without a price",
    "untracked_usage": "more tokens billed than recorded",
    "price_differs": "same tokens, another price",
    "unexplained": "not explained by the data",
}


def reconciliation(
    client: ApiClient, start: date, end: date
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    body = client.get("/api/v1/reconciliation", {"start": start.isoformat(), "end": end.isoformat()})
    days = frame([{**d, "coverage": share_text(d["coverage"]), "causes": causes_text(d["causes"])}
                  for d in body.get("days", [])], DAY_COLUMNS)  # fmt: skip
    rows = frame(
        [{**r, "model": r.get("model") or "(no model on the bill)", "coverage": share_text(r["coverage"]),
          "billed_tokens": "not in the bill" if r["billed_tokens"] is None else f"{r['billed_tokens']:,}",
          "causes": causes_text(r["causes"])}
         for r in body.get("rows", [])],
        ROW_COLUMNS,
    )  # fmt: skip
    totals = {
        k: body.get(k) for k in ("billed_usd", "tracked_usd", "gap_usd", "coverage", "causes", "sources")
    }
    return totals, days[list(DAY_COLUMNS)], rows[list(ROW_COLUMNS)]


def share_text(coverage: float | None) -> str:
    """Coverage as text: a day or model with nothing billed has none (not "None", not 0%)."""
    return "not billed" if coverage is None else f"{coverage:.1%}"


def causes_text(causes: dict[str, float]) -> str:
    if not causes:
        return "—"
    ordered = sorted(causes.items(), key=lambda item: -abs(item[1]))
    return "; ".join(f"{CAUSES.get(name, name)} {format_value(usd, 'money')}" for name, usd in ordered)
