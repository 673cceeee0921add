"""Report: one printable page per tenant for a month (the month so far by default) — spend, tier mix,
cost per request, savings, escalations and the top opportunities — laid out for the browser's
"Print / Save as PDF"."""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import cache, charts, components, kpis, report, tiers

filters = components.page_header(
    "Monthly report",
    "One page to send: the month's spend, tier mix, cost per request, savings, escalations and top "
    "opportunities. It uses the tenant, route and environment filters; the month is chosen here.",
    own_range=True,
)
components.print_layout()
now = components.now()
months = report.months(now)
month = st.selectbox(
    "Month", months, format_func=lambda first: f"{first:%B %Y}", key="report_month", width=240
)
chosen = report.period(month, now)
scope = report.scoped(filters, chosen.start, chosen.end)
before = report.scoped(filters, *report.comparison(chosen))
who = filters.tenant or "All tenants"
extra = ", ".join(f"{name} {value}" for name, value in (("route", filters.route), ("environment",
                  filters.environment)) if value)  # fmt: skip
st.header(f"{who} · {chosen.title}")
st.caption(
    f"{chosen.span_text}{' · ' + extra if extra else ''} · compared with the same days of the month before · "
    f"generated {now:%Y-%m-%d %H:%M} UTC by tiermix. Print it, or save it as PDF, from the browser "
    "(Ctrl/Cmd+P): the sidebar and buttons are left out of the print."
)
cache.prefetch(
    ("summary", scope), ("summary", before), ("mix", scope, {"by": "tier", "interval": "1d"}),
    ("mix", before, {"by": "tier", "interval": "1d"}), ("escalations", scope), ("escalations", before),
    ("opportunities", scope),
)  # fmt: skip
summary = cache.load("summary", scope)
if not summary.get("calls"):
    components.empty_state(scope, "calls")
    st.stop()

headline = {kpi.label: kpi for kpi in kpis.headline_kpis(summary, cache.load("summary", before))}
components.kpi_row(
    [headline[label] for label in ("Spend", "Requests", "Cost per request", "Savings (estimate)")]
)
components.kpi_row(
    [headline[label] for label in ("Frontier share", "Escalation rate", "Unpriced calls")]
    + kpis.escalation_kpis(
        kpis.first_row(cache.load("escalations", scope)[0]),
        kpis.first_row(cache.load("escalations", before)[0]),
    )[-1:]
)

st.subheader("Tier mix and cost per request")
mix = cache.load("mix", scope, by="tier", interval="1d")
trend = kpis.mark_complete(kpis.trend_from_mix(mix, tiers.top()), scope.start, scope.end, scope.bucket)
left, right = st.columns([3, 2])
with left:
    components.chart(
        charts.mix_and_cost(
            mix, trend, value="calls", title="Tier share of calls per day, and cost per request",
            unit="calls", time_range=(scope.start, scope.end),
        ),
        trend,
        "report tier mix per day",
    )  # fmt: skip
with right:
    components.table(
        report.tier_table(mix, list(tiers.in_force())),
        "report tier mix",
        column_config={
            "tier": "Tier",
            "calls": st.column_config.NumberColumn("Calls", format="localized"),
            "share_calls": components.share_column("Share of calls"),
            "cost_usd": components.money_column("Spend"),
            "share_cost": components.share_column("Share of spend"),
        },
    )
    st.caption(
        f"Savings are an estimate: what the answered requests would have cost on each route's top-tier "
        f"model ({kpis.format_value(summary.get('baseline_cost_usd'), 'money')}) minus what they cost."
    )

st.subheader("Escalations")
_, reasons = cache.load("escalations", scope)
escalated = reasons[reasons["kind"] == "escalation"] if not reasons.empty else reasons
if escalated.empty:
    st.caption("No request escalated to a higher tier this month.")
else:
    components.table(
        escalated[["reason", "requests", "attempts", "rate", "cost_usd"]].head(6),
        "report escalation reasons",
        column_config={
            "reason": "Reason",
            "requests": "Requests",
            "attempts": "Abandoned attempts",
            "rate": components.share_column("Share of eligible requests"),
            "cost_usd": components.money_column("Cost of the abandoned attempts"),
        },
    )

st.subheader("Top opportunities")
totals, routes, _ = cache.load("opportunities", scope)
ranked = routes[routes["monthly_savings_low_usd"].fillna(0) > 0] if not routes.empty else routes
if ranked.empty:
    st.caption(
        "No route has evidence that a cheaper tier would serve its top-tier traffic (see the Opportunities "
        "page for what is missing)."
    )
else:
    components.table(
        ranked[[*([] if filters.tenant else ["tenant"]), *report.OPPORTUNITY_COLUMNS]].head(5),
        "report top opportunities",
        column_config={
            "tenant": "Tenant",
            "route": "Route",
            "top_direct_share": components.share_column("Straight to the top tier"),
            "monthly_savings_low_usd": components.money_column("Saving / month (low)"),
            "monthly_savings_usd": components.money_column("Saving / month"),
            "monthly_savings_high_usd": components.money_column("Saving / month (high)"),
            "confidence": "Confidence",
        },
    )  # fmt: skip
    st.caption(
        "Estimates over the 30 days up to the report's end, with their 95% interval; ranked by the low end."
    )
