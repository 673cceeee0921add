"""Widgets every page shares: a chart or table with its CSV download, KPI rows, empty and error states.

Page files stay thin by calling these; anything a FinOps user reads twice (the empty-state snippet,
the wording of an API failure) is written once here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from tiermix_dashboard import tables
from tiermix_dashboard.api_client import ApiError, ApiForbidden, ApiNotFound, ApiUnauthorized, ApiUnreachable
from tiermix_dashboard.config import READ_KEY_COMMAND
from tiermix_dashboard.filters import Filters
from tiermix_dashboard.formats import money_text
from tiermix_dashboard.kpis import Kpi

_FILTERS_KEY = "tiermix_filters"
TITLE_SHOWN = "tiermix_title_shown"  # set once a page has drawn its title (the error path skips it)

FIRST_CALL_SNIPPET = """\
# pip install tiermix ; export TIERMIX_ENDPOINT=http://127.0.0.1:4318
import tiermix
from openai import OpenAI

tiermix.init(service="support-bot")          # reads TIERMIX_ENDPOINT / TIERMIX_API_KEY
client = OpenAI()

@tiermix.observe(route="support.answer")     # one call record per LLM call, tagged with the route
def answer(question: str) -> str:
    with tiermix.context(tenant="acme"):
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        )
    return reply.choices[0].message.content
"""


def now() -> datetime:
    return datetime.now(timezone.utc)


def use_filters(filters: Filters) -> None:
    st.session_state[_FILTERS_KEY] = filters


def has_filters() -> bool:
    return _FILTERS_KEY in st.session_state


def current_filters() -> Filters:
    value: Filters = st.session_state[_FILTERS_KEY]
    return value


def page_header(title: str, caption: str, *, own_range: bool = False) -> Filters:
    """Title, what the page answers, and the scope it is showing; returns the current filters.
    ``own_range``: the page picks its own dates (the report's month), so the time filter is not named."""
    filters = current_filters()
    st.title(title)
    st.session_state[TITLE_SHOWN] = True
    scope = [] if own_range else [f"**{filters.label}**"]
    scope += [
        f"{name} **{value}**"
        for name, value in (
            ("tenant", filters.tenant),
            ("route", filters.route),
            ("environment", filters.environment),
        )
        if value
    ]
    shown = f" Showing {', '.join(scope)}." if scope else ""
    st.caption(f"{caption}{shown} Times in UTC.")
    return filters


def kpi_row(kpis: Sequence[Kpi], per_row: int = 4) -> None:
    for first in range(0, len(kpis), per_row):
        columns = st.columns(per_row)
        for column, kpi in zip(columns, kpis[first : first + per_row], strict=False):
            column.metric(
                kpi.label, kpi.text, kpi.delta, delta_color=kpi.delta_colour, help=kpi.help, border=True,
                delta_arrow="auto" if kpi.arrow else "off",
            )  # fmt: skip


_PRINT_CSS = """<style>
@media print {
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"],
  [data-testid="stDownloadButton"], [data-testid="stSelectbox"], [data-testid="stDecoration"],
  [data-testid="stStatusWidget"], .stPlotlyChart .modebar-container { display: none !important; }
  [data-testid="stMain"] { margin-left: 0 !important; }
  [data-testid="stMainBlockContainer"] { padding: 0 !important; max-width: 100% !important; }
  /* the screen layout (charts keep the width they were drawn at) shrunk to fit A4: the report on one page */
  html { zoom: 0.58; }
  .stPlotlyChart, [data-testid="stDataFrame"], [data-testid="stMetric"] { break-inside: avoid; }
  @page { size: A4 portrait; margin: 10mm; }
}
</style>"""


def print_layout() -> None:
    """Lay the page out for the browser's Print / Save as PDF: no sidebar, buttons or pickers."""
    st.html(_PRINT_CSS)


def firing_banner(firing: pd.DataFrame) -> None:
    """Alerts firing now, above everything else on the page that shows the scope they concern."""
    if firing.empty:
        return
    lines = [
        f"- **{row['rule']}** ({row['group']}): {row['value']}"
        + (
            f", firing since {row['firing_since']:%Y-%m-%d %H:%M} UTC"
            if pd.notna(row["firing_since"])
            else ""
        )
        for _, row in firing.head(5).iterrows()
    ]
    more = f"\n\n…and {len(firing) - 5} more." if len(firing) > 5 else ""
    st.warning(  # amber, not the red of a page that failed: the page itself is fine
        f"**{len(firing)} alert(s) firing.** See the Alerts page.\n" + "\n".join(lines) + more,
        icon=":material/notifications_active:",
    )


def chart(fig: go.Figure, data: pd.DataFrame, name: str) -> None:
    """A Plotly chart with the CSV of the data behind it."""
    st.plotly_chart(fig, key=f"chart_{name}", config={"displaylogo": False})
    download(data, name)


def table(
    data: pd.DataFrame,
    name: str,
    *,
    column_config: dict[str, Any] | None = None,
    height: int | Literal["auto"] = "auto",
) -> None:
    """A table with its CSV; headings in words, money to its amounts' precision, gaps as a dash
    (tables.displayed). The CSV keeps the raw values."""
    shown, config = tables.displayed(data, column_config)
    st.dataframe(shown, hide_index=True, column_config=config, key=f"table_{name}", height=height)
    download(data, name)


def download(data: pd.DataFrame, name: str) -> None:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    st.download_button(
        "Download CSV",
        data.to_csv(index=False).encode(),
        file_name=f"tiermix-{slug}.csv",
        mime="text/csv",
        key=f"csv_{slug}",
        on_click="ignore",
        icon=":material/download:",
    )


def no_data(what: str) -> None:
    st.info(f"No {what} in this range and scope. Widen the time range or clear the tenant/route filters.")


def empty_state(filters: Filters, what: str) -> None:
    """Nothing in range: onboarding if the API has never seen a call, else a hint to widen the filters."""
    from tiermix_dashboard import cache

    seen = cache.load("dimensions", filters.end)
    if seen["tenant"] or seen["route"]:
        no_data(what)
    else:
        first_call_help()


def first_call_help() -> None:
    """The empty state: nothing was ever recorded, so show how to send the first call."""
    st.info(
        "**No LLM calls recorded yet.** Instrument the function that calls your model and the first "
        "calls show up here within seconds. `tiermix.instrument()` patches the OpenAI and Anthropic "
        "clients instead, and `tiermix demo` sends realistic demo traffic."
    )
    st.code(FIRST_CALL_SNIPPET, language="python")


def api_error(exc: ApiError) -> None:
    """One clear message per failure kind; never a traceback."""
    if isinstance(exc, ApiUnreachable):
        st.error(
            f"**The tiermix API is not reachable.** {exc}.\n\nStart it with `tiermix up` (or `tiermix "
            "collector`), or point the dashboard at it with `TIERMIX_API_URL`.",
            icon=":material/cloud_off:",
        )
    elif isinstance(exc, ApiUnauthorized):
        st.warning(
            "**This tiermix API requires a read key.** Enter one in the sidebar (create it with "
            f"`{READ_KEY_COMMAND}`, or `--tenant NAME` instead of `--all-tenants`). The API said: {exc}",
            icon=":material/key:",
        )
    elif isinstance(exc, ApiForbidden):
        st.warning(f"**Not allowed with this key.** {exc}", icon=":material/block:")
    elif isinstance(exc, ApiNotFound):
        st.warning(f"**Not available on this API.** {exc}", icon=":material/help:")
    else:
        st.error(f"**The API could not answer.** {exc}", icon=":material/error:")


def money_column(label: str, help_text: str | None = None) -> Any:
    """Amounts of money (spend, savings): cents, more decimals where the amounts are tiny."""
    return tables.money_config(label, help_text)


def unit_money_column(label: str, help_text: str | None = None) -> Any:
    """Small per-unit amounts (per request, per call): at least four decimals."""
    return tables.money_config(label, help_text, min_decimals=4)


def share_column(label: str, help_text: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format="percent", help=help_text)


# What a FinOps reader scans first (who, which model, what it cost) comes first; ids last.
CALL_TABLE_COLUMNS = (
    "ts", "tenant", "route", "tier", "model", "cost_usd", "input_tokens", "output_tokens", "status",
    "attempt", "escalated", "escalation_reason", "final", "unpriced", "duration_ms", "provider", "request_id",
)  # fmt: skip
CALL_COLUMN_CONFIG: dict[str, Any] = {
    "ts": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "tenant": "Tenant",
    "route": "Route",
    "attempt": "Attempt",
    "tier": "Tier",
    "model": st.column_config.TextColumn("Model", width="medium"),
    "provider": "Provider",
    "status": "Status",
    "escalated": "Escalated",
    "escalation_reason": st.column_config.TextColumn("Reason", width="medium"),
    "final": "Answered",
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
    "cost_usd": tables.money_config("Cost (USD)"),
    "unpriced": "Unpriced",
    "duration_ms": st.column_config.NumberColumn("Latency (ms)", format="%.0f"),
    "request_id": "Request id",
}


def cascade(detail: dict[str, Any]) -> None:
    """One logical request: its outcome in a sentence, then every attempt in order."""
    attempts: pd.DataFrame = detail["attempts"]
    outcome = (
        f"answered by **{detail.get('final_model')}** ({detail.get('final_tier')} tier)"
        if detail.get("answered")
        else "**not answered** (every attempt failed)"
    )
    st.markdown(
        f"Request `{detail.get('request_id')}` · tenant **{detail.get('tenant')}** · route "
        f"**{detail.get('route')}** · {detail.get('calls')} attempt(s) · total cost "
        f"**{money_text(detail.get('cost_usd'))}** · {outcome}."
    )
    columns = [column for column in CALL_TABLE_COLUMNS if column not in ("tenant", "route", "request_id")]
    table(attempts[columns], f"request {detail.get('request_id')}", column_config=CALL_COLUMN_CONFIG)


def explanation(explained: dict[str, Any]) -> None:
    """Why today's tier map puts a model in its tier, and its list price today."""
    decided_by = f"`{explained.get('tier_source')}`" + (
        f": {explained['detail']}" if explained.get("detail") else "."
    )
    st.markdown(f"Today's tier map puts it in **{explained.get('tier')}**, decided by {decided_by}")
    price = explained.get("price") or {}
    if not price:
        return
    if price.get("unpriced"):
        st.warning("No price matches this model today: its calls are stored as unpriced.")
        return
    blended = price.get("blended_usd_per_mtok")
    blended_text = money_text(blended)
    st.markdown(
        f"List price today: **{blended_text} per 1M tokens** blended (3 input : 1 output), source "
        f"`{price.get('price_source')}`."
    )
    segments = pd.DataFrame(price.get("segments") or [])
    if not segments.empty:
        table(segments, f"price of {explained.get('model')}")
