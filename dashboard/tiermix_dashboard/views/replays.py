"""Replays: what share of a route a cheaper model served when its real requests were replayed against it,
the saving that proves, and every sample's verdict with both answers (admin API, docs/replay.md).

Captured requests and answers are the most sensitive data tiermix holds, so the API serves them to an
admin key only. A read key (what the dashboard normally holds) gets 403 here: the page then asks for an
admin key, kept in this browser session only and used for this page's requests only.
"""

from __future__ import annotations

import streamlit as st

from tiermix_dashboard import cache, components, kpis
from tiermix_dashboard.api_client import ApiForbidden, ApiUnauthorized
from tiermix_dashboard.replays import VERDICTS

ADMIN_KEY = "replays_admin_key"  # not a widget's key: Streamlit drops those once the widget is not drawn
ADMIN_INPUT = "replays_admin_key_input"
VERDICT_FILTER = {None: "Every verdict", 1: "Servable", 0: "Not servable", -1: "No verdict"}

filters = components.page_header(
    "Replays",
    "Production requests replayed against a cheaper model and judged by your acceptance criteria: the "
    "servable share with its 95% interval, and what moving the route would save (an estimate).",
)


def _remember_key() -> None:
    st.session_state[ADMIN_KEY] = st.session_state.get(ADMIN_INPUT, "")


typed = str(st.session_state.get(ADMIN_KEY, "")).strip()
if typed:  # this page only: every other page keeps reading with the dashboard's read key
    cache.use_connection(cache.Connection(cache.connection().api_url, typed))
try:
    runs = cache.load("replay_runs", filters.tenant)
except (ApiForbidden, ApiUnauthorized) as exc:
    st.warning(
        "Replay results include captured prompts and answers, so the API serves them to an **admin** key "
        f"only ({exc}).",
        icon=":material/lock:",
    )
    st.text_input(
        "Admin API key", type="password", key=ADMIN_INPUT, on_change=_remember_key,
        help="`tiermix keys create --scope admin --tenant NAME`; kept in this browser session only.",
    )  # fmt: skip
    st.stop()
if typed and st.sidebar.button("Forget the admin key", icon=":material/lock_reset:", key="replays_forget"):
    st.session_state.pop(ADMIN_KEY, None)
    st.rerun()

if runs.empty:
    st.info(
        "No replay runs yet. Capture a sample of a route (`tiermix capture set --tenant T --route R "
        "--rate 0.02`), then replay it: `tiermix replay run --tenant T --route R --candidate "
        "openai:gpt-4o-mini --sample 200 --judge normalized --max-cost 5` (docs/replay.md).",
        icon=":material/science:",
    )
    st.stop()

st.subheader("Runs")
components.table(
    runs.drop(columns=["error"]),
    "replay runs",
    column_config={
        "id": st.column_config.NumberColumn("Run", format="%d"),
        "tenant": "Tenant",
        "route": "Route",
        "candidate": "Candidate",
        "status": "Status",
        "servable_share": components.share_column("Servable", "Share of judged samples the judges accepted."),
        "servable_low": components.share_column("Low (95%)", "Wilson interval, lower end."),
        "servable_high": components.share_column("High (95%)", "Wilson interval, upper end."),
        "judged": st.column_config.NumberColumn("Judged", format="%d"),
        "planned": st.column_config.NumberColumn("Planned", format="%d"),
        "no_verdict": st.column_config.NumberColumn("No verdict", format="%d"),
        "savings_low_usd": components.money_column("Saving / month (low)", "Moving the servable share."),
        "savings_usd": components.money_column("Saving / month"),
        "savings_high_usd": components.money_column("Saving / month (high)"),
        "spent_usd": components.unit_money_column("Replay cost", "Candidate and judge calls."),
        "cap_usd": components.unit_money_column("Cap"),
        "created_at": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm"),
        "finished_at": st.column_config.DatetimeColumn("Finished (UTC)", format="YYYY-MM-DD HH:mm"),
    },
)

labels = {
    int(row.id): f"#{row.id} · {row.route} → {row.candidate} ({row.status})" for row in runs.itertuples()
}
run_id = st.selectbox("Run", list(labels), format_func=labels.__getitem__, key="replays_run")
run = cache.load("replay_run", run_id)
result = run.get("result") or {}
servable = result.get("servable") or {}
savings = (result.get("monthly_savings_usd") or {}).get("moved") or {}
latency = result.get("latency_ms") or {}
cost = result.get("replay_cost_usd") or {}
progress = run.get("progress") or {}
if run.get("error"):
    st.warning(f"Run #{run_id} is {run['status']}: {run['error']}", icon=":material/warning:")


def _interval(low: object, high: object, kind: kpis.Kind) -> str:
    if low is None or high is None:
        return "no interval yet"
    return f"95% interval {kpis.format_value(low, kind)} to {kpis.format_value(high, kind)}"


def _ms(value: object) -> str:
    return "n/a" if value is None else f"{float(str(value)):,.0f} ms"


components.kpi_row([
    kpis.Kpi("Servable share", servable.get("share"), kpis.format_value(servable.get("share"), "share"),
             _interval(servable.get("low"), servable.get("high"), "share"), "off",
             f"{servable.get('servable', 0):,} of {servable.get('judged', 0):,} judged samples accepted; "
             f"{servable.get('no_verdict', 0):,} without a verdict are left out.", arrow=False),
    kpis.Kpi("Saving / month (estimate)", savings.get("point"),
             kpis.format_value(savings.get("point"), "money"),
             _interval(savings.get("low"), savings.get("high"), "money"), "off",
             "If a router moved the servable share of the route's top-tier traffic to the candidate, "
             "from the route's last 30 days of real traffic and prices.", arrow=False),
    kpis.Kpi("Latency p50 / p95", latency.get("candidate_p50"),
             f"{_ms(latency.get('candidate_p50'))} / {_ms(latency.get('candidate_p95'))}",
             f"production {_ms(latency.get('production_p50'))} / {_ms(latency.get('production_p95'))}",
             "off", "Candidate on the replayed requests, against production on the same requests.",
             arrow=False),
    kpis.Kpi("Replay cost", cost.get("total"), kpis.format_value(cost.get("total"), "unit_money"),
             f"cap {kpis.format_value(cost.get('cap'), 'unit_money')} · "
             f"{progress.get('done', 0):,} of {progress.get('planned', 0):,} done",
             "off", "Candidate and judge calls, also visible as environment 'shadow'.", arrow=False),
])  # fmt: skip

st.subheader("Samples")
verdict = st.selectbox(
    "Verdict", list(VERDICT_FILTER), format_func=VERDICT_FILTER.__getitem__, key="replays_verdict"
)
samples = cache.load("replay_samples", run_id, verdict)
if samples.empty:
    st.info(
        f"No {'judged' if verdict is None else VERDICTS[verdict]} samples in run #{run_id} "
        "(samples past the capture TTL are not shown)."
    )
else:
    components.table(
        samples,
        f"replay {run_id} samples",
        column_config={
            "verdict": "Verdict",
            "question": st.column_config.TextColumn("Request (last user message)", width="medium"),
            "production_answer": st.column_config.TextColumn("Production answer", width="medium"),
            "candidate_answer": st.column_config.TextColumn("Candidate answer", width="medium"),
            "reasons": st.column_config.TextColumn("Why", width="medium"),
            "production_model": "Production model",
            "candidate_model": "Candidate model",
            "production_ms": st.column_config.NumberColumn("Production ms", format="%.0f"),
            "candidate_ms": st.column_config.NumberColumn("Candidate ms", format="%.0f"),
            "production_cost_usd": components.money_column("Production cost"),
            "candidate_cost_usd": components.money_column("Candidate cost"),
            "judge_cost_usd": components.money_column("Judge cost"),
            "retries": st.column_config.NumberColumn("Retries", format="%d"),
            "error": "Error",
            "ts": st.column_config.DatetimeColumn("Production call (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "span_id": "Span id",
        },
        height=420,
    )
