"""Prices & tiers: which tier each model lands in and why, what it costs, and which calls have no price."""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import cache, charts, components
from tiermix_dashboard.api_client import ApiError, ApiForbidden, ApiNotFound
from tiermix_dashboard.formats import money_text

filters = components.page_header("Prices & tiers", "How models map to tiers and prices.")
cache.prefetch(("models_seen", filters), ("data_health", filters), ("unpriced_models", filters))
seen = cache.load("models_seen", filters)
health = cache.load("data_health", filters)

st.subheader("Models in use, by tier")
if seen.empty:
    components.empty_state(filters, "calls")
else:
    components.chart(
        charts.bars(
            seen.sort_values("usd_per_mtok", ascending=False),
            x="model",
            y="usd_per_mtok",
            colour="tier",
            horizontal=True,
            y_format="money",
            title="Blended price paid per model (spend / tokens)",
            x_title="Model",
            y_title="USD per 1M tokens (input + output)",
        ),
        seen,
        "models by tier",
    )
    components.table(
        seen,
        "models by tier table",
        column_config={
            "model": "Model",
            "tier": "Tier",
            "calls": "Calls",
            "tokens": "Tokens",
            "cost_usd": components.money_column("Spend"),
            "usd_per_mtok": components.money_column("USD / 1M tokens"),
        },
    )

st.subheader("Unpriced calls")
unpriced = cache.load("unpriced_models", filters)
if unpriced.empty:
    st.success("Every call in this range matched a price.")
else:
    st.warning(
        f"**{health.get('unpriced_calls', 0):,} calls have no price** and are not in spend figures (they are "
        "never counted as $0). Add a custom price with `tiermix prices set`, then `tiermix prices reprice`."
    )
    components.table(unpriced, "unpriced models")

st.subheader("Effective tier map")
try:
    tiers, rules = cache.load("tier_map")
    st.markdown("Tiers, cheapest first: " + " < ".join(f"**{name}**" for name in tiers["name"]))
    components.table(
        tiers,
        "tiers",
        column_config={
            "name": "Tier",
            "rank": "Rank",
            "band_max_usd_per_mtok": st.column_config.NumberColumn(
                "Price band up to (USD / 1M tokens)", format="$%.2f",
                help="A model no rule names lands in the first tier whose band is above its blended price; "
                "the top tier has no upper bound (—).",
            ),
            "description": "Description",
        },
    )  # fmt: skip
    st.caption("Rules, in the order they are tried (highest priority first; yours before the defaults):")
    components.table(rules, "tier map rules", height=300)
    overrides = cache.load("price_overrides")
    if not overrides.empty:
        st.caption("Price overrides on top of the genai-prices list prices:")
        components.table(overrides, "price overrides")
except (ApiNotFound, ApiForbidden) as exc:
    st.info(
        f"The tier map comes from the collector's admin API, which is not available here ({exc}). "
        "From a shell: `tiermix tiers list`, `tiermix tiers explain MODEL`.",
        icon=":material/info:",
    )

st.subheader("Explain a model")
models = sorted(seen["model"].astype(str).unique()) if not seen.empty else []
model = st.selectbox(
    "Model", models, index=None, placeholder="pick a model seen in this range", key="explain_model"
)
if model:
    row = seen[seen["model"] == model].iloc[0]
    st.markdown(
        f"**{model}** was stored as tier **{row['tier']}** for {int(row['calls']):,} calls in this range, "
        f"at a blended **{money_text(row['usd_per_mtok'])} per 1M tokens** (spend / tokens)."
    )
    try:
        components.explanation(cache.load("explain_model", model))
    except (ApiNotFound, ApiForbidden):
        st.caption(
            f"Why this tier: run `tiermix tiers explain {model}` (the admin API is not available here)."
        )
    except ApiError as exc:
        st.caption(f"Could not explain {model}: {exc}")
