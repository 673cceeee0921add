"""Cost: where spend goes (tier, model, tenant, route), what a request really costs, the savings
estimate, and the chargeback export."""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import cache, charts, components, kpis

SPLITS = {"tier": "Tier", "model": "Model", "provider": "Provider", "tenant": "Tenant", "route": "Route"}

filters = components.page_header("Cost", "What LLM calls cost, per request and per segment.")
split_shown = st.session_state.get("cost_split", "tier")
cache.prefetch(
    ("summary", filters), ("summary", filters.previous()), ("spend_by", filters, split_shown),
    ("mix", filters, {"by": split_shown if split_shown in ("tier", "model", "provider") else "tier"}),
    ("cost", filters, {"group_by": "route"}), ("chargeback", filters),
)  # fmt: skip
summary = cache.load("summary", filters)
if not summary.get("calls"):
    components.empty_state(filters, "calls")
else:
    previous = cache.load("summary", filters.previous())
    headline = {kpi.label: kpi for kpi in kpis.headline_kpis(summary, previous)}
    components.kpi_row(
        [
            headline["Spend"],
            headline["Cost per request"],
            headline["Savings (estimate)"],
            headline["Unpriced calls"],
        ]
    )
    overhead = kpis.format_value(summary.get("escalation_overhead_usd"), "money")
    st.caption(f"Escalation overhead (cost of abandoned cascade attempts): **{overhead}**.")

    st.subheader("Spend by segment")
    split = st.segmented_control(
        "Split spend by",
        list(SPLITS),
        format_func=SPLITS.__getitem__,
        default="tier",
        required=True,
        key="cost_split",
    )
    spend = cache.load("spend_by", filters, split)
    left, right = st.columns([3, 2])
    with left:
        components.chart(
            charts.bars(
                spend.head(15),
                x="key",
                y="cost_usd",
                colour="key" if split == "tier" else None,
                horizontal=True,
                y_format="money",
                title=f"Spend by {split}",
                x_title=SPLITS[split],
                y_title="Spend (USD)",
            ),
            spend,
            f"spend by {split}",
        )
    with right:
        if split in ("tier", "model", "provider"):
            over_time = cache.load("mix", filters, by=split)
            components.chart(
                charts.bars(
                    over_time,
                    x="bucket",
                    time_range=(filters.start, filters.end),
                    bucket=filters.bucket,
                    y="cost_usd",
                    colour="key",
                    y_format="money",
                    title=f"Spend over time by {split}",
                    x_title="Time (UTC)",
                    y_title="Spend (USD)",
                ),
                over_time[["bucket", "key", "cost_usd", "calls"]],
                f"spend over time by {split}",
            )
        else:
            components.table(
                spend,
                f"spend table {split}",
                column_config={
                    "key": SPLITS[split],
                    "cost_usd": components.money_column("Spend"),
                    "calls": "Calls",
                    "requests": "Requests",
                    "unpriced_calls": "Unpriced calls",
                },
            )

    st.subheader("Cost per request by route")
    per_route, sample_rate = cache.load("cost", filters, group_by="route")
    statistics = kpis.per_request_statistics(per_route)
    fig = charts.bars(
        statistics,
        x="route",
        y="usd",
        colour="statistic",
        y_format="money",
        title="Cost per request by route (all attempts of a cascade summed)",
        x_title="Route",
        y_title="Cost per request (USD)",
    )
    fig.update_layout(barmode="group")
    components.chart(fig, per_route, "cost per request by route")
    if sample_rate > 1:
        st.caption(f"p50/p95 computed on a sample of 1 request in {sample_rate} (whole cascades kept).")

    st.subheader("Savings against the top-tier baseline (estimate)")
    st.caption(
        "**Estimate**: what the answered requests would have cost at each route's baseline model (its "
        "most-used top-tier model) at list price, minus what they cost. Not an invoice figure."
    )
    components.table(
        per_route[["route", "requests", "cost_usd", "baseline_model", "baseline_cost_usd", "savings_usd"]],
        "savings by route",
        column_config={
            "route": "Route",
            "requests": "Requests",
            "cost_usd": components.money_column("Actual spend"),
            "baseline_model": "Baseline model",
            "baseline_cost_usd": components.money_column("Baseline cost (est.)"),
            "savings_usd": components.money_column("Savings (est.)"),
        },
    )

    st.subheader("Chargeback export")
    st.caption("Per tenant, month, provider and model, with FinOps FOCUS column names; whole months.")
    components.table(cache.load("chargeback", filters), "chargeback", height=240)
