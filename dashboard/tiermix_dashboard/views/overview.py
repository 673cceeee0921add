"""Overview: the seed's question first (each tier's share of traffic over time against cost per request),
anything firing, the headline numbers with their change, trends, and the segments that moved most."""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import cache, charts, components, kpis, tiers

filters = components.page_header("Overview", "Where LLM money goes, and whether routing works.")
previous = filters.previous()
cache.prefetch(
    ("summary", filters), ("summary", previous), ("data_health", filters), ("data_health", previous),
    ("mix", filters, {"by": "tier"}), ("mix", previous, {"by": "tier"}),
    ("summary_by", filters, "tenant,route"), ("summary_by", previous, "tenant,route"),
    ("firing_alerts", filters.tenant),
)  # fmt: skip
components.firing_banner(cache.load("firing_alerts", filters.tenant))
summary, summary_before = cache.load("summary", filters), cache.load("summary", previous)

if not summary.get("calls"):
    components.empty_state(filters, "calls")
else:
    mix = cache.load("mix", filters, by="tier")
    trend = kpis.mark_complete(
        kpis.trend_from_mix(mix, tiers.top()), filters.start, filters.end, filters.bucket
    )
    components.chart(
        charts.mix_and_cost(
            mix,
            trend,
            value="calls",
            title="Tier share of calls, and cost per request",
            unit="calls",
            time_range=(filters.start, filters.end),
        ),
        trend[["bucket", "requests", "cost_usd", "cost_per_request_usd"]].merge(
            mix.pivot_table(index="bucket", columns="key", values="share_calls").add_prefix("share_calls_"),
            left_on="bucket",
            right_index=True,
            how="left",
        ),
        "overview tier share and cost per request",
    )
    shares = kpis.tier_share_kpis(mix, cache.load("mix", previous, by="tier"), list(tiers.in_force()))
    per_request = [k for k in kpis.headline_kpis(summary, summary_before) if k.label == "Cost per request"]
    components.kpi_row([*shares, *per_request], per_row=max(4, len(shares) + 1))
    st.caption(
        "Shares are of all calls in the range (each attempt of a cascade counts); cost per request is every "
        "attempt's cost over the requests started in the bucket. Changes compare with the previous period "
        f"of equal length ({previous.range_text})."
    )

    st.subheader("Headline figures")
    health, health_before = cache.load("data_health", filters), cache.load("data_health", previous)
    current = {**summary, "sdk_dropped": health.get("sdk_dropped")}
    before = {**summary_before, "sdk_dropped": health_before.get("sdk_dropped")}
    components.kpi_row(kpis.headline_kpis(current, before))
    for note in kpis.health_warnings(health):
        st.warning(f"**Data health:** {note}", icon=":material/warning:")

    left, right = st.columns(2)
    with left:
        components.chart(
            charts.bars(
                mix,
                x="bucket",
                time_range=(filters.start, filters.end),
                bucket=filters.bucket,
                y="cost_usd",
                colour="key",
                title="Spend by tier",
                x_title="Time (UTC)",
                y_title="Spend (USD)",
                y_format="money",
            ),
            mix[["bucket", "key", "cost_usd", "calls", "requests"]],
            "overview spend by tier",
        )
    with right:
        components.chart(
            charts.trend(
                trend,
                x="bucket",
                time_range=(filters.start, filters.end),
                y="frontier_share",
                title="Frontier share of answered requests",
                y_title="Frontier share (%)",
                y_format=".1%",
            ),
            trend,
            "overview frontier share",
        )
    components.chart(
        charts.trend(
            trend,
            x="bucket",
            y="requests",
            title="Requests over time",
            y_title="Requests",
            y_format=",d",
            time_range=(filters.start, filters.end),
        ),
        trend,
        "overview requests",
    )

    st.caption("Dotted, hollow points are time buckets only partly inside the range (or still filling).")

    st.subheader("Top movers")
    st.caption("Tenant and route segments whose spend changed most against the previous period.")
    movers = kpis.top_movers(
        cache.load("summary_by", filters, "tenant,route"), cache.load("summary_by", previous, "tenant,route")
    )
    components.table(
        movers,
        "overview top movers",
        column_config={
            "tenant": "Tenant",
            "route": "Route",
            "requests": "Requests",
            "requests_previous": "Requests (prev.)",
            "cost_usd": components.money_column("Spend"),
            "cost_usd_previous": components.money_column("Spend (prev.)"),
            "spend_change_usd": components.money_column("Spend change"),
            "frontier_share": components.share_column("Frontier share"),
            "frontier_share_previous": components.share_column("Frontier share (prev.)"),
            "frontier_share_change_pp": st.column_config.NumberColumn(
                "Frontier share change", format="%+.1f pp"
            ),
        },
    )
