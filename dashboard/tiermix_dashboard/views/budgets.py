"""Budgets: each budget's spend so far, its period-end forecast with a 95% interval (an estimate), and
the day it is projected to run out; an editor to set and remove budgets (docs/budgets.md).

Reading needs the dashboard's read key. Setting a budget needs an admin key: the editor asks for one,
kept in this browser session only and used for the editor's writes only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from tiermix_dashboard import cache, charts, components, kpis
from tiermix_dashboard.api_client import ApiClient, ApiError, ApiForbidden, ApiUnauthorized
from tiermix_dashboard.budgets import cumulative, scope_of
from tiermix_dashboard.formats import money_text

ADMIN_KEY = "budgets_admin_key"  # not a widget's key: Streamlit drops those once the widget is not drawn

filters = components.page_header(
    "Budgets",
    "Spend against each budget in its own period (every environment, replays included), and where it "
    "is heading: the period-end forecast is an estimate with its 95% interval.",
)
table, statuses = cache.load("budgets", filters.tenant)
if table.empty:
    st.info(
        "No budgets yet. Set one below, or `tiermix budgets set --tenant acme --amount 500` (each calendar "
        "month, UTC); an alert on `budget_forecast_ratio` then warns before it runs out.",
        icon=":material/account_balance_wallet:",
    )
else:
    over = [s for s in statuses if (s.get("forecast_ratio") or 0) > 1 or s.get("exceeded_on")]
    spent_total, budgeted = float(table["spent_usd"].sum()), float(table["amount_usd"].sum())
    components.kpi_row([
        kpis.Kpi("Budgets", float(len(statuses)), f"{len(statuses):,}", None, "off", "Budgets in scope."),
        kpis.Kpi("Forecast over budget", float(len(over)), f"{len(over):,}", None, "off",
                 "Budgets already exceeded, or whose period-end forecast (point) is above the amount."),
        kpis.Kpi("Spent so far", spent_total, kpis.format_value(spent_total, "money"), None, "off",
                 "Sum over the budgets shown (a spend in two budgets' scopes counts in both)."),
        kpis.Kpi("Budgeted", budgeted, kpis.format_value(budgeted, "money"), None, "off",
                 "Sum of the amounts of the budgets shown."),
    ])  # fmt: skip
    components.table(
        table,
        "budgets",
        column_config={
            "id": st.column_config.NumberColumn("Budget", format="%d"),
            "scope": "Scope",
            "period": "Period (end exclusive)",
            "amount_usd": components.money_column("Budget"),
            "spent_usd": components.money_column("Spent", "Priced spend so far in the period."),
            "spent_ratio": components.share_column("Spent %"),
            "forecast": st.column_config.TextColumn(
                "Forecast (95% interval)", help="Period-end spend: an estimate, with its interval."
            ),
            "forecast_share": st.column_config.TextColumn(
                "Forecast %", help="Point forecast over the budget."
            ),
            "burn": st.column_config.TextColumn("Burn / day", help="Mean of the last 7 complete days."),
            "runs_out": st.column_config.TextColumn(
                "Runs out", help="The day the forecast reaches the budget."
            ),
            "note": st.column_config.TextColumn("Note", width="medium"),
        },
    )
    by_id = {int(s["budget"]["id"]): s for s in statuses}
    labels = {
        i: f"#{i} · {scope_of(s['budget'])} · {money_text(s['budget']['amount_usd'])}"
        for i, s in by_id.items()
    }
    chosen = st.selectbox("Budget", list(by_id), format_func=labels.__getitem__, key="budgets_chosen")
    status = by_id[chosen]
    forecast = status.get("forecast") or {}
    path = cumulative(status)
    components.chart(
        charts.budget_burn(path, amount=status["budget"]["amount_usd"], low=forecast.get("low_usd"),
                           high=forecast.get("high_usd"), title=f"Budget #{chosen}: spend and forecast",
                           period=(status["period_start"], status["period_end"])),
        path, f"budget {chosen}",
    )  # fmt: skip
    if forecast:
        trend = forecast["trend_usd_per_day"]
        days = forecast["history_days"]
        basis = f"Forecast from {days} day{'s' if days != 1 else ''} of history"
        basis += ", with weekday effects" if forecast["weekday_effects"] else ""
        basis += f", trend {kpis.format_value(trend, 'money')}/day per day" if trend else ""
        note = str(status.get("note") or "")
        # the API's note restates the history it used: keep only what it adds (why the interval is wide)
        added = note.partition(":")[2].strip() if "history" in note and ":" in note else note
        st.caption(basis + (f": {added}" if added else "") + ".")
    elif status.get("note"):
        st.caption(str(status["note"])[:1].upper() + str(status["note"])[1:])

st.subheader("Set a budget")


def _remember_key() -> None:
    st.session_state[ADMIN_KEY] = st.session_state.get("budgets_admin_input", "")


def _write(method: str, path: str, body: object = None) -> Any:
    """One write with the admin key typed here (else the dashboard's own key), on a client of its own."""
    typed = str(st.session_state.get(ADMIN_KEY, "")).strip()
    current = cache.connection()
    client = ApiClient(current.api_url, typed or current.api_key)
    try:
        return client.post(path, body) if method == "POST" else client.delete(path)
    finally:
        client.close()


with st.form("budget_editor", clear_on_submit=False):
    left, middle, right = st.columns(3)
    tenant = left.text_input("Tenant", value=filters.tenant or "", help="Empty: every tenant.")
    route = middle.text_input("Route", value=filters.route or "", help="Empty: every route.")
    amount = right.number_input("Amount (USD per period)", min_value=0.0, value=500.0, step=50.0)
    period = st.radio("Period", ["month", "custom"], horizontal=True, help="month: each calendar month, UTC.")
    first, last = st.columns(2)
    today = dt.date.today()
    starts = first.date_input("Custom period from", value=today.replace(day=1))
    ends = last.date_input("until (exclusive)", value=today.replace(day=1) + dt.timedelta(days=31))
    submitted = st.form_submit_button("Save budget", icon=":material/save:")
if submitted:
    body: dict[str, object] = {"amount_usd": float(amount), "tenant": tenant.strip() or None,
                               "route": route.strip() or None, "period": period}  # fmt: skip
    if period == "custom":
        body.update(starts_on=str(starts), ends_on=str(ends))
    try:
        saved = _write("POST", "/api/v1/budgets", {k: v for k, v in body.items() if v is not None})
        cache.forget()
        st.success(f"Budget #{saved['budget']['id']} saved for {scope_of(saved['budget'])}.")
        st.rerun()
    except (ApiForbidden, ApiUnauthorized) as exc:
        st.warning(f"Setting budgets needs an admin key ({exc}).", icon=":material/lock:")
    except ApiError as exc:
        st.error(str(exc))
if not table.empty:
    ids = [None, *table["id"].astype(int).tolist()]
    remove = st.selectbox(
        "Remove a budget", ids, format_func=lambda i: "—" if i is None else f"#{i}", key="budgets_remove"
    )
    if remove is not None and st.button(f"Remove budget #{remove}", icon=":material/delete:"):
        try:
            _write("DELETE", f"/api/v1/budgets/{remove}")
            cache.forget()
            st.rerun()
        except (ApiForbidden, ApiUnauthorized) as exc:
            st.warning(f"Removing budgets needs an admin key ({exc}).", icon=":material/lock:")
st.text_input("Admin API key (for saving and removing)", type="password", key="budgets_admin_input",
              on_change=_remember_key, help="Kept in this browser session only.")  # fmt: skip
