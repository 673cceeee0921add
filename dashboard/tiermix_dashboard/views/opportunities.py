"""Opportunities: which routes send traffic straight to the top tier that a cheaper tier would serve,
what moving it would save, and how sure that is (definitions: docs/api.md, /api/v1/opportunities)."""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import cache, charts, components, kpis

filters = components.page_header(
    "Opportunities",
    "Traffic a cheaper tier would serve, from your own cascades: every figure is an estimate with its "
    "95% interval, over the 30 days up to the end of the range.",
)
totals, routes, bands = cache.load("opportunities", filters)
if routes.empty:
    components.empty_state(filters, "requests")
else:
    top = totals.get("top_tier") or "top"
    components.kpi_row([
        kpis.Kpi("Over-specified share of spend", totals.get("over_specified_share"),
                 kpis.format_value(totals.get("over_specified_share"), "share"), None, "off",
                 f"{top}-tier spend a cheaper tier would have served (low end), over all spend."),
        kpis.Kpi("Saving / month (low)", totals.get("monthly_savings_low_usd"),
                 kpis.format_value(totals.get("monthly_savings_low_usd"), "money"), None, "off",
                 "Sum over routes of the lower end of each estimate, scaled to 30 days."),
        kpis.Kpi("Routes with evidence", float((routes["evidence_requests"] > 0).sum()),
                 f"{int((routes['evidence_requests'] > 0).sum()):,} of {len(routes):,}", None, "off",
                 "Routes where some requests started on a cheaper tier: the only evidence used."),
        kpis.Kpi("Spend in the window", totals.get("spend_usd"),
                 kpis.format_value(totals.get("spend_usd"), "money"), None, "off",
                 "Priced spend of every call in the 30-day window."),
    ])  # fmt: skip

    st.subheader("Ranked by conservative monthly saving")
    components.table(
        routes,
        "opportunities",
        column_config={
            "tenant": "Tenant",
            "route": "Route",
            "spend_usd": components.money_column("Spend", "Priced spend of the route in the window."),
            "top_direct_share": components.share_column(
                f"Straight to {top}", f"Requests whose first attempt ran on the {top} tier."
            ),
            "over_specified_share": components.share_column(
                "Over-specified", "Top-tier spend a cheaper tier would have served, over the route's spend."
            ),
            "monthly_savings_low_usd": components.money_column(
                "Saving / month (low)", "Lower end of the 95% interval: what the ranking uses."
            ),
            "monthly_savings_usd": components.money_column("Saving / month", "At the observed acceptance."),
            "monthly_savings_high_usd": components.money_column("Saving / month (high)", "Upper end."),
            "confidence": st.column_config.TextColumn(
                "Confidence", help="Width of the acceptance interval where the money is: high ≤ 10 pp."
            ),
            "evidence_requests": st.column_config.NumberColumn(
                "Sample", format="%d", help="Requests that started on the candidate tier (the evidence)."
            ),
            "requests": st.column_config.NumberColumn("Requests", format="%d"),
        },
    )

    if (totals.get("routes") or 0) > len(routes):
        st.caption(
            f"The {len(routes):,} routes with the largest conservative saving, of {totals['routes']:,}; the "
            "totals above cover them all (`/api/v1/opportunities?limit=` for more)."
        )

    st.subheader("By input-token band")
    labels = [f"{tenant} · {route}" for tenant, route in zip(routes["tenant"], routes["route"], strict=True)]
    chosen = st.selectbox("Route", labels, key="opportunity_route")
    tenant, route = chosen.split(" · ", 1)
    detail = bands[(bands["tenant"] == tenant) & (bands["route"] == route)].drop(columns=["tenant", "route"])
    components.table(
        detail,
        "opportunity bands",
        column_config={
            "band": st.column_config.TextColumn("Input tokens", help="A band is judged by its own requests."),
            "evidence": "Evidence",
            "candidate_tier": "Cheaper tier",
            "candidate_model": "Its model",
            "top_direct_requests": st.column_config.NumberColumn(f"Straight to {top}", format="%d"),
            "top_direct_cost_usd": components.money_column("Their cost"),
            "tried_on_candidate": st.column_config.NumberColumn("Tried cheaper", format="%d"),
            "acceptance": components.share_column("Accepted", "Answered by the cheaper tier itself."),
            "acceptance_low": components.share_column("Accepted (low)", "95% Wilson interval, lower end."),
            "acceptance_high": components.share_column("Accepted (high)"),
            "cost_on_candidate_usd": components.money_column(
                "Cost if cheaper", "Their own tokens at the cheaper model's price."
            ),
            "savings_low_usd": components.money_column("Saving (low)", "In the window."),
            "savings_usd": components.money_column("Saving"),
            "savings_high_usd": components.money_column("Saving (high)"),
            "unpriced_top_direct": st.column_config.NumberColumn("Unpriced", format="%d"),
        },
    )
    st.caption(
        "Saving = acceptance x their cost - cost if cheaper: a moved request always pays the cheaper tier, "
        f"and the {top} tier again when the cheaper answer is not accepted. No cascade, no estimate."
    )

    st.subheader("Routing what-if")
    head, curve = cache.load("routing_whatif", filters, tenant, route)
    if head.get("reason") or curve.empty:
        st.info(
            f"No what-if for {route}: {head.get('reason') or 'no curve'}. Record the router's decision with "
            "`cascade.decide(router, score=...)` to see what another threshold would do."
        )
    else:
        components.chart(
            charts.whatif(curve, title=f"{route}: {head.get('router')} threshold vs cost and acceptance",
                          direction=head.get("direction")),
            curve,
            "routing whatif",
        )  # fmt: skip
        now = head.get("current") or {}
        st.caption(
            f"Estimates with 95% intervals: sending a request to {head.get('candidate_model')} instead "
            f"of {head.get('top_model')} costs the cheaper call plus, when it is not accepted, the top "
            "tier again; acceptance comes from requests the cheaper tier was tried on at similar scores. "
            "Hollow points rest on little data (over 10% of the requests they move have fewer than 20 "
            f"trials in their score bin). Today: {kpis.format_value(now.get('top_share'), 'share')} to the "
            f"top tier at {kpis.format_value(now.get('cost_per_request_usd'), 'money')} per request. "
            f"{head.get('scored_requests', 0):,} scored requests on the curve; "
            f"{head.get('unscored_requests', 0):,} without a score and "
            f"{head.get('other_router_requests', 0):,} from other or no routers are counted, not placed."
        )
        if head.get("routellm") is None:
            st.caption(f"RouteLLM CPT(50%), CPT(80%), APGR: not available, {head.get('routellm_reason')}.")
