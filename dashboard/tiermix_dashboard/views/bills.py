"""Bills: does tiermix match the invoice? The providers' own bills (their cost APIs, or an imported CSV /
FOCUS file) against what tiermix tracked, per day and provider, with the causes of every gap
(docs/reconciliation.md). A bill is the organization's: this page needs an all-tenants read key.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from tiermix_dashboard import cache, charts, components, kpis
from tiermix_dashboard.api_client import ApiForbidden
from tiermix_dashboard.bills import CAUSES

filters = components.page_header(
    "Bills",
    "The providers' bills against tiermix's figures, in whole UTC days: coverage = tracked / billed, and "
    "what the data says about each gap.",
)
end = filters.end.date() + timedelta(days=1 if filters.end.time() != filters.end.min.time() else 0)
start = min(filters.start.date(), end - timedelta(days=1))
try:
    totals, days, rows = cache.load("reconciliation", start, end)
except ApiForbidden:
    st.info("A provider's bill is the whole organization's: this page needs a read key for all tenants.",
            icon=":material/lock:")  # fmt: skip
    st.stop()

if days.empty:
    st.info(
        "No bill covers these days. Add the providers' cost APIs — `tiermix bills add openai-org --kind "
        "openai --admin-key-env OPENAI_ADMIN_KEY` (or `--kind anthropic`) — then `tiermix bills sync`, "
        "or import a CSV / FOCUS export: `tiermix bills import bill.csv --source aws-cur`.",
        icon=":material/receipt_long:",
    )
    st.stop()

coverage = totals.get("coverage")
unexplained = (totals.get("causes") or {}).get("unexplained", 0.0)
components.kpi_row([
    kpis.Kpi("Billed", totals["billed_usd"], kpis.format_value(totals["billed_usd"], "money"), None, "off",
             "What the providers' bills charge for these days (usage only; tax and credits left out)."),
    kpis.Kpi("Tracked by tiermix", totals["tracked_usd"], kpis.format_value(totals["tracked_usd"], "money"),
             None, "off", "Priced cost of every recorded call of the billed providers, replays included."),
    kpis.Kpi("Coverage", coverage, kpis.format_value(coverage, "share"), None, "off",
             "Tracked / billed: how much of the bill tiermix explains call by call."),
    kpis.Kpi("Unexplained", unexplained, kpis.format_value(unexplained, "money"), None, "off",
             "The part of the gap no cause in the data accounts for."),
])  # fmt: skip
st.caption("Sources: " + ", ".join(totals.get("sources") or []))

chart_data = days.melt(id_vars=["day", "provider"], value_vars=["billed_usd", "tracked_usd"],
                       var_name="figure", value_name="usd")  # fmt: skip
chart_data["day"] = chart_data["day"].astype(str)  # whole days: one category each, bars side by side
chart_data["figure"] = (
    chart_data["provider"]
    + " "
    + chart_data["figure"].map({"billed_usd": "billed", "tracked_usd": "tracked"})
)
figure = charts.bars(
    chart_data,
    x="day",
    y="usd",
    colour="figure",
    grouped=True,
    title="Billed and tracked per day",
    x_title="Day (UTC)",
    y_title="USD",
    y_format="money",
)
figure.update_xaxes(type="category")  # whole days, not instants
components.chart(figure, chart_data, "bills per day")  # fmt: skip

causes = totals.get("causes") or {}
if causes:
    st.subheader("Where the gap comes from")
    for name, usd in sorted(causes.items(), key=lambda item: -abs(item[1])):
        st.markdown(f"- **{kpis.format_value(usd, 'money')}** {CAUSES.get(name, name)} (`{name}`)")

st.subheader("Per day and provider")
components.table(
    days,
    "bills by day",
    column_config={
        "day": "Day (UTC)",
        "provider": "Provider",
        "billed_usd": components.money_column("Billed"),
        "tracked_usd": components.money_column("Tracked"),
        "gap_usd": components.money_column("Gap", "Billed - tracked."),
        "coverage": st.column_config.TextColumn("Coverage", help="Tracked / billed."),
        "causes": st.column_config.TextColumn("Causes", width="large"),
    },
)
st.subheader("Per model")
components.table(
    rows,
    "bills by model",
    column_config={
        "day": "Day", "provider": "Provider", "model": "Model",
        "billed_usd": components.money_column("Billed"), "tracked_usd": components.money_column("Tracked"),
        "gap_usd": components.money_column("Gap"), "coverage": st.column_config.TextColumn("Coverage"),
        "calls": st.column_config.NumberColumn("Calls", format="%d"),
        "unpriced_calls": st.column_config.NumberColumn("Unpriced", format="%d"),
        "usage_less_calls": st.column_config.NumberColumn("No usage", format="%d"),
        "tracked_tokens": st.column_config.NumberColumn("Tokens (tracked)", format="localized"),
        "billed_tokens": st.column_config.TextColumn("Tokens (provider)", help="From its usage report."),
        "causes": st.column_config.TextColumn("Causes", width="large"),
    },
)  # fmt: skip
