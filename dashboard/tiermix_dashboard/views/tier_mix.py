"""Tier mix: how calls, tokens and spend split across tiers over time, per tenant or route, and which
models make up a tier."""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import cache, charts, components, kpis, tiers

MEASURES = {"calls": ("Calls", "calls"), "tokens": ("Tokens", "tokens"), "cost_usd": ("Cost", "USD")}
SEGMENT_LIMIT = 12

filters = components.page_header("Tier mix", "Share of calls, tokens or cost served by each tier.")
measure = st.segmented_control(
    "Measure",
    list(MEASURES),
    format_func=lambda key: MEASURES[key][0],
    default="calls",
    required=True,
    key="mix_measure",
)
label, unit = MEASURES[measure]
dimension_shown = st.session_state.get("mix_dimension", "route")
chosen_shown = getattr(filters, dimension_shown)
options_shown = cache.load("dimensions", filters.end)[dimension_shown]
cache.prefetch(
    ("mix", filters, {"by": "tier"}),
    ("mix", filters.previous(), {"by": "tier"}),
    (
        "mix_by_segment",
        filters,
        dimension_shown,
        [chosen_shown] if chosen_shown else options_shown,
        SEGMENT_LIMIT,
    ),
    ("mix", filters, {"by": "model", "tier": st.session_state.get("mix_tier", tiers.top())}),
    ("mix_totals", filters, "model", {"tier": st.session_state.get("mix_tier", tiers.top())}),
)
mix = cache.load("mix", filters, by="tier")
if mix.empty:
    components.empty_state(filters, "calls")
else:
    before = cache.load("mix", filters.previous(), by="tier")
    components.kpi_row(kpis.tier_share_kpis(mix, before, list(tiers.in_force()), measure))
    components.chart(
        charts.stacked_share(
            mix,
            x="bucket",
            key="key",
            value=measure,
            title=f"Tier share of {label.lower()}",
            unit=unit,
            time_range=(filters.start, filters.end),
        ),
        mix[["bucket", "key", "calls", "tokens", "cost_usd", "share_calls", "share_cost"]],
        f"tier share {measure}",
    )

    st.subheader("By tenant or route")
    dimension = st.segmented_control(
        "Compare",
        ["tenant", "route"],
        format_func=str.title,
        default="route",
        required=True,
        key="mix_dimension",
    )
    options = cache.load("dimensions", filters.end)[dimension]
    chosen = getattr(filters, dimension)
    values = [chosen] if chosen else options
    segments = cache.load("mix_by_segment", filters, dimension, values, SEGMENT_LIMIT)
    if segments.empty:
        components.no_data("calls")
    else:
        components.chart(
            charts.bars(
                segments,
                x=dimension,
                y=f"share_{measure}",
                colour="key",
                horizontal=True,
                y_format=".0%",
                show_values=True,
                title=f"Tier share of {label.lower()} by {dimension}",
                x_title=dimension.title(),
                y_title=f"Share of {unit}",
            ),
            segments,
            f"tier share by {dimension}",
        )
        if len(options) > SEGMENT_LIMIT and not chosen:
            st.caption(f"Showing {SEGMENT_LIMIT} of {len(options)} {dimension}s; pick one in the sidebar.")

    st.subheader("Models within a tier")
    seen = charts.ordered_keys(list(mix["key"].astype(str).unique()))
    tier = st.selectbox("Tier", seen, index=len(seen) - 1, key="mix_tier")
    models = cache.load("mix", filters, by="model", tier=tier)
    left, right = st.columns([1, 1])
    with left:
        components.chart(
            charts.stacked_share(
                models,
                x="bucket",
                time_range=(filters.start, filters.end),
                key="key",
                value=measure,
                unit=unit,
                title=f"Models within the {tier} tier ({label.lower()})",
            ),
            models[["bucket", "key", "calls", "tokens", "cost_usd"]],
            f"models in {tier}",
        )
    with right:
        totals = cache.load("mix_totals", filters, "model", tier=tier)
        components.table(
            totals[["key", "calls", "requests", "tokens", "cost_usd"]],
            f"model totals {tier}",
            column_config={
                "key": "Model",
                "calls": "Calls",
                "requests": "Requests (first attempt)",
                "tokens": "Tokens",
                "cost_usd": components.money_column("Spend"),
            },
        )
