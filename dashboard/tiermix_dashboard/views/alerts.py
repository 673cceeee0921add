"""Alerts: rules (create, edit, enable, silence, delete), the current state of each alert instance, and
the timeline of state changes."""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import alert_rules, cache, charts, components
from tiermix_dashboard.api_client import ApiError, ApiNotFound

SILENCES = {"1h": "1 hour", "4h": "4 hours", "1d": "1 day", "7d": "7 days"}

filters = components.page_header("Alerts", "Get told when the frontier share, spend or drift moves.")
client = cache.client()
try:
    rules = alert_rules.list_rules(client)
except ApiNotFound:
    st.info(
        "**This collector has no alerts API yet** (`/api/v1/alerts/rules` is missing). Upgrade the "
        "collector, or manage rules with `tiermix alerts create|list|silence`.",
        icon=":material/notifications_off:",
    )
    st.stop()


def rule_form(key: str, initial: alert_rules.RuleForm) -> alert_rules.RuleForm | None:
    """The create/edit form; returns the filled form once submitted."""
    with st.form(key):
        name = st.text_input("Name", initial.name, placeholder="frontier spike", key=f"{key}_name")
        left, middle, right = st.columns(3)
        metrics = list(alert_rules.METRICS)
        metric = left.selectbox(
            "Metric",
            metrics,
            index=metrics.index(initial.metric),
            format_func=alert_rules.METRICS.__getitem__,
            key=f"{key}_metric",
        )
        kinds = list(alert_rules.KINDS)
        kind = middle.selectbox(
            "Compare",
            kinds,
            index=kinds.index(initial.kind),
            format_func=alert_rules.KINDS.__getitem__,
            key=f"{key}_kind",
        )
        op = right.selectbox(
            "Operator", alert_rules.OPS, index=alert_rules.OPS.index(initial.op), key=f"{key}_op"
        )
        left, middle, right = st.columns(3)
        threshold = left.number_input(
            "Threshold (fractions as 0.3 = 30%)",
            value=initial.threshold,
            format="%.4f",
            key=f"{key}_threshold",
        )
        window = middle.text_input("Window", initial.window, help="30s, 5m, 1h, 1d", key=f"{key}_window")
        for_ = right.text_input(
            "For", initial.for_, help="How long the condition must hold before firing.", key=f"{key}_for"
        )
        left, middle, right = st.columns(3)
        group_by = left.multiselect(
            "One alert per", ["tenant", "route"], default=list(initial.group_by), key=f"{key}_group_by"
        )
        tenant = middle.text_input("Only tenant", initial.tenant, key=f"{key}_tenant")
        route = right.text_input("Only route", initial.route, key=f"{key}_route")
        left, middle, right = st.columns(3)
        min_volume = left.number_input(
            "Minimum requests in window", min_value=0, value=initial.min_volume, key=f"{key}_min_volume"
        )
        severity = middle.selectbox(
            "Severity",
            alert_rules.SEVERITIES,
            index=alert_rules.SEVERITIES.index(initial.severity),
            key=f"{key}_severity",
        )
        enabled = right.checkbox("Enabled", value=initial.enabled, key=f"{key}_enabled")
        left, right = st.columns([1, 3])
        types = ["", "webhook", "slack", "email"]
        channel_type = left.selectbox(
            "Notify via",
            types,
            index=types.index(initial.channel_type),
            format_func=lambda t: t or "no channel",
            key=f"{key}_channel_type",
        )
        target = right.text_input(
            "Webhook / Slack URL, or email addresses (comma-separated)",
            initial.channel_target,
            placeholder="leave empty to keep the current one"
            if initial.name
            else "https://hooks.slack.com/...",
            key=f"{key}_target",
        )
        if not st.form_submit_button("Save rule", type="primary", key=f"{key}_save"):
            return None
    return alert_rules.RuleForm(
        name=name,
        metric=metric,
        threshold=float(threshold),
        op=op,
        kind=kind,
        group_by=tuple(group_by),
        tenant=tenant.strip(),
        route=route.strip(),
        window=window.strip(),
        for_=for_.strip(),
        min_volume=int(min_volume),
        severity=severity,
        channel_type=channel_type,
        channel_target=target,
        enabled=enabled,
    )


def apply(action: str, write: object) -> None:
    """Run a write, report it, and refresh cached reads."""
    try:
        write() if callable(write) else None
    except ApiError as exc:
        st.error(f"Could not {action}: {exc}")
        return
    cache.forget()
    st.toast(f"Done: {action}.")
    st.rerun()


st.subheader("Current state")
try:
    states = alert_rules.states(client, rules)
    if states.empty:
        st.caption("No alert has been evaluated yet (the evaluator runs every 30 s by default).")
    else:
        components.table(
            states,
            "alert states",
            column_config={
                "rule": "Rule",
                "group": "Group",
                "state": "State",
                "value": st.column_config.TextColumn(
                    "Value", help="The metric in the window, in its unit (shares as percentages)"
                ),
                "volume": st.column_config.NumberColumn("Requests in window"),
                "pending_since": st.column_config.DatetimeColumn("Pending since (UTC)", format="MM-DD HH:mm"),
                "firing_since": st.column_config.DatetimeColumn("Firing since (UTC)", format="MM-DD HH:mm"),
                "last_evaluated_at": st.column_config.DatetimeColumn(
                    "Last checked (UTC)", format="MM-DD HH:mm:ss"
                ),
                "tenant": None,
                "rule_id": None,
            },
        )
except ApiNotFound:
    st.caption("This API does not list alert states.")

st.subheader("Timeline")
try:
    history = alert_rules.events(client, filters.start, rules)
    history = history[history["ts"] < filters.end] if not history.empty else history
    current = alert_rules.states(client, rules)
    spans = alert_rules.state_spans(
        history, current, filters.start, min(filters.end, components.now()), rules
    )
    if spans.empty:
        st.caption("No alert was evaluated in this range.")
    else:
        shown_from = alert_rules.activity_start(spans, filters.start, filters.end)
        components.chart(
            charts.state_spans(spans, title="Alert states over time", time_range=(shown_from, filters.end)),
            history.drop(columns=["summary"]),
            "alert events",
        )
        zoomed = (
            f" The axis starts at {shown_from:%Y-%m-%d %H:%M} UTC: no rule was evaluated before then."
            if shown_from > filters.start
            else ""
        )
        st.caption(
            f"{len(history)} state change(s) in this range; hover a band for when and why. Pale green is ok, "
            f"blue resolved, amber pending, red firing, grey no data.{zoomed}"
        )
except ApiNotFound:
    st.caption("This API does not list alert events.")

st.subheader("Rules")
if rules:
    components.table(
        alert_rules.rules_table(rules),
        "alert rules",
        column_config=dict(alert_rules.RULE_TABLE_HEADINGS),
    )
    st.caption("Open a rule below to edit, disable, silence or delete it.")
else:
    st.caption("No rules yet. A good first rule: frontier share of each tenant above 30% for 15 minutes.")
for rule in rules:
    spec = alert_rules.spec_of(rule)
    on = bool(rule.get("enabled", True))
    label = f"{spec.get('name')}: {spec.get('metric')} ({'enabled' if on else 'disabled'})"
    with st.expander(label, icon=":material/notifications_active:" if on else ":material/notifications_off:"):
        left, middle, right = st.columns(3)
        enabled = bool(rule.get("enabled", True))
        if left.button("Disable" if enabled else "Enable", key=f"toggle_{rule.get('id')}"):
            apply(
                "change the rule",
                lambda rule=rule, enabled=enabled: alert_rules.set_enabled(client, rule, not enabled),
            )
        period = middle.selectbox(
            "Silence for",
            list(SILENCES),
            key=f"silence_for_{rule.get('id')}",
            format_func=SILENCES.__getitem__,
        )
        if middle.button("Silence", key=f"silence_{rule.get('id')}"):
            apply(
                f"silence for {period}",
                lambda rule=rule, period=period: alert_rules.silence(
                    client, rule.get("id"), period, "silenced from the dashboard"
                ),
            )
        if right.button("Delete", key=f"delete_{rule.get('id')}"):
            apply("delete the rule", lambda rule=rule: alert_rules.delete_rule(client, rule.get("id")))
        edited = rule_form(f"edit_{rule.get('id')}", alert_rules.form_from_rule(rule))
        if edited is not None:
            apply(
                "save the rule",
                lambda rule=rule, edited=edited: alert_rules.update_rule(client, rule, edited),
            )

st.subheader("New rule")
created = rule_form(
    "new_rule",
    alert_rules.RuleForm(
        name="", metric="frontier_share", threshold=0.3, window="15m", for_="15m", min_volume=200
    ),
)
if created is not None:
    apply("create the rule", lambda: alert_rules.create_rule(client, created))
