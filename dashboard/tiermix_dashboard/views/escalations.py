"""Escalations: which tier requests start on and which tier answers them, why they escalate, and what
the abandoned attempts cost."""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import cache, charts, components, kpis

filters = components.page_header(
    "Escalations", "Cascades: start cheap, escalate when the answer is not good enough."
)
cache.prefetch(
    ("escalations", filters), ("escalations", filters.previous()), ("tier_funnel", filters),
    ("escalation_reasons_over_time", filters), ("escalations", filters, {"group_by": "route"}),
)  # fmt: skip
totals, _ = cache.load("escalations", filters)
if totals.empty or not totals["requests"].fillna(0).sum():
    components.empty_state(filters, "requests")
else:
    before, _ = cache.load("escalations", filters.previous())
    components.kpi_row(kpis.escalation_kpis(kpis.first_row(totals), kpis.first_row(before)))

    st.subheader("From first attempt to answer")
    funnel = cache.load("tier_funnel", filters)
    components.chart(
        charts.bars(
            funnel,
            x="tier",
            y="count",
            colour="stage",
            grouped=True,
            y_format=",d",
            title="Requests started on each tier vs answered on each tier",
            x_title="Tier",
            y_title="Requests",
        ),
        funnel,
        "tier funnel",
    )
    st.caption(
        "A tier that answers more requests than start on it receives escalated traffic; one that answers "
        "fewer sends its requests up (or they fail)."
    )

    st.subheader("Why requests escalate")
    over_time = cache.load("escalation_reasons_over_time", filters)
    escalations_only = over_time[over_time["kind"] == "escalation"]
    components.chart(
        charts.bars(
            escalations_only,
            x="bucket",
            time_range=(filters.start, filters.end),
            bucket=filters.bucket,
            y="attempts",
            colour="reason",
            y_format=",d",
            title=f"Escalations by reason per {filters.bucket_name}",
            x_title="Time (UTC)",
            y_title="Escalated attempts",
        ),
        over_time,
        "escalation reasons over time",
    )
    _, reasons = cache.load("escalations", filters)
    components.table(
        reasons,
        "escalation reasons",
        column_config={
            "kind": "Kind",
            "reason": "Reason",
            "attempts": "Attempts",
            "requests": "Requests",
            "rate": components.share_column("Share of eligible requests"),
            "cost_usd": components.money_column("Cost of these attempts"),
        },
    )
    st.caption("Failovers are error-driven retries on the same tier or another provider, not escalations.")

    st.subheader("Escalation overhead by route")
    per_route, _ = cache.load("escalations", filters, group_by="route")
    components.chart(
        charts.bars(
            per_route,
            x="route",
            y="escalation_overhead_usd",
            horizontal=True,
            y_format="money",
            title="Cost of abandoned attempts by route",
            x_title="Route",
            y_title="Overhead (USD)",
        ),
        per_route,
        "escalation overhead by route",
    )
    components.table(
        per_route,
        "escalations by route",
        column_config={
            "route": "Route",
            "requests": "Requests",
            "eligible_requests": "Started below top tier",
            "escalated_requests": "Escalated",
            "escalation_rate": components.share_column("Escalation rate"),
            "escalations": "Escalated attempts",
            "failovers": "Failovers",
            "escalation_overhead_usd": components.money_column("Overhead"),
            "failover_cost_usd": components.money_column("Failover cost"),
        },
    )
