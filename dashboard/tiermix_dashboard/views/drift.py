"""Drift: is the model mix of each route moving away from its usual mix, did a new model appear, and is
a change in frontier share due to traffic moving between routes or to routing within them?"""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import cache, charts, components, kpis

WINDOWS = {"1h": "Last hour", "6h": "Last 6 hours", "1d": "Last day", "7d": "Last 7 days"}

filters = components.page_header(
    "Drift", "Model mix of each route against its trailing 7-day baseline (Jensen-Shannon distance)."
)
window_shown = st.session_state.get("drift_window", "1d")
cache.prefetch(("drift_periods", filters), ("drift", filters, {"window": window_shown, "baseline": "7d"}))
every_period = cache.load("drift_periods", filters)
daily, unscored = kpis.scored_segments(every_period)
hourly = filters.duration.total_seconds() <= 2 * 86400
period_name = "hour" if hourly else "day"
if every_period.empty:
    components.empty_state(filters, "calls")
else:
    if daily.empty:  # calls, but none with a baseline to compare with: say so, not an empty chart
        st.info(
            f"**Not enough history to score drift yet.** Every route in this scope had fewer than "
            f"{kpis.MIN_BASELINE_CALLS} calls in the 7 days before each {period_name} of the range "
            f"({unscored} tenant-route-{period_name}s), so there is no usual mix to compare with.",
            icon=":material/hourglass_empty:",
        )
    else:
        components.chart(
            charts.heatmap(
                daily,
                x="period_middle",
                time_range=(filters.start, filters.end),
                y="route",
                z="js_distance",
                x_title=f"{period_name.title()} (UTC)",
                y_title="Route",
                title=f"Drift score by route and {period_name} (worst tenant)",
                z_title="JS distance (0 to 1)",
            ),
            daily.drop(columns=["period_middle"]),
            f"drift by route and {period_name}",
        )
        st.caption(
            f"Each {period_name}'s model mix in this range against the 7 days before it. 0 = same mix, "
            "1 = no model in common; 0.1 and above is flagged as drift."
            + (
                f" {unscored} tenant-route-{period_name}s had fewer than {kpis.MIN_BASELINE_CALLS} calls"
                " in the 7 days before them: too little to compare with, so they are left out."
                if unscored
                else ""
            )
        )

    st.subheader("New models")
    events = kpis.new_model_events(daily)
    if events.empty:
        st.success("No route started using a model it had not used in its 7-day baseline.")
    else:
        components.table(
            events,
            "new model events",
            column_config={
                "period": f"{period_name.title()} (UTC)",
                "tenant": "Tenant",
                "route": "Route",
                "model": "New model",
                "current_calls": f"Calls that {period_name}",
            },
        )

    st.subheader("Why did the frontier share change?")
    window = st.segmented_control(
        "Current window",
        list(WINDOWS),
        format_func=WINDOWS.__getitem__,
        default="1d",
        required=True,
        key="drift_window",
    )
    answer = cache.load("drift", filters, window=window, baseline="7d")
    share = answer["frontier_share"]
    if share.get("baseline") is None or share.get("current") is None:
        # a missing side is not a 0% frontier share: drawing it as one would invent a change
        st.info(
            "**Nothing to decompose:** "
            + ("no answered requests in the 7 days before this window." if share.get("baseline") is None
               else "no answered requests in this window."),
            icon=":material/info:",
        )  # fmt: skip
    else:
        components.chart(
            charts.waterfall(
                kpis.decomposition_steps(share),
                y_format=".1%",
                y_title="Frontier share (%)",
                title="Frontier share: baseline → traffic shift → routing shift → now",
            ),
            answer["segments"],
            f"frontier share decomposition {window}",
        )
    st.caption(
        "**Traffic shift**: routes' share of requests changed (e.g. more traffic to a route that "
        "needs the frontier tier). **Routing shift**: the routes themselves sent more or fewer "
        "requests to the frontier tier."
    )
    st.markdown("**Which tenant and route moved it**")
    components.table(
        kpis.largest_contributions(answer["segments"]),
        f"frontier share contributions {window}",
        column_config={
            "tenant": "Tenant",
            "route": "Route",
            "weight_baseline": components.share_column("Share of requests (baseline)"),
            "weight_current": components.share_column("Share of requests (window)"),
            "share_baseline": components.share_column("Frontier share (baseline)"),
            "share_current": components.share_column("Frontier share (window)"),
            "traffic_shift_pp": st.column_config.NumberColumn("Traffic shift", format="%+.2f pp"),
            "routing_shift_pp": st.column_config.NumberColumn("Routing shift", format="%+.2f pp"),
        },
    )
    st.markdown("**Drift score per tenant and route in the window**")
    components.table(
        kpis.blank_scores_without_baseline(answer["rows"]),
        f"drift by segment {window}",
        column_config={
            "tenant": "Tenant",
            "route": "Route",
            "baseline_calls": "Baseline calls",
            "current_calls": "Window calls",
            "js_distance": st.column_config.NumberColumn("JS distance", format="%.3f"),
            "psi": st.column_config.NumberColumn("PSI", format="%.3f"),
            "drifted": "Drifted",
            "new_models": "New models",
            "frontier_share_baseline": components.share_column("Frontier share (baseline)"),
            "frontier_share_current": components.share_column("Frontier share (window)"),
        },
    )
