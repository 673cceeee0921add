"""Streamlit entry script: ``streamlit run dashboard/tiermix_dashboard/app.py``.

The only place that reads the environment (``TIERMIX_API_URL``, ``TIERMIX_DASHBOARD_URL``,
``TIERMIX_API_KEY``). Each run: navigation, the read key (asked for in the sidebar once the API answers
401), the global filters, then the chosen page. Any API failure on the way ends in one clear message
from ``components.api_error`` instead of a traceback.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from tiermix_dashboard import cache, components, filters, tiers
from tiermix_dashboard.api_client import ApiError, ApiUnauthorized
from tiermix_dashboard.config import READ_KEY_COMMAND, DashboardConfig, load_config

VIEWS = Path(__file__).parent / "views"
PAGES = (
    ("overview.py", "Overview", ":material/dashboard:"),
    ("tier_mix.py", "Tier mix", ":material/stacked_bar_chart:"),
    ("cost.py", "Cost", ":material/payments:"),
    ("escalations.py", "Escalations", ":material/trending_up:"),
    ("drift.py", "Drift", ":material/swap_calls:"),
    ("opportunities.py", "Opportunities", ":material/savings:"),
    ("replays.py", "Replays", ":material/science:"),
    ("budgets.py", "Budgets", ":material/account_balance_wallet:"),
    ("bills.py", "Bills", ":material/receipt_long:"),
    ("report.py", "Monthly report", ":material/summarize:"),
    ("alerts.py", "Alerts", ":material/notifications:"),
    ("prices.py", "Prices & tiers", ":material/sell:"),
    ("calls.py", "Calls", ":material/list:"),
)
_NEEDS_KEY = "api_needs_key"
_KEY_INPUT = "api_key_input"
_TITLE_SHOWN = components.TITLE_SHOWN


def main() -> None:
    config = load_config(os.environ)
    st.set_page_config(page_title="tiermix", page_icon=":material/stacked_bar_chart:", layout="wide")
    pages = [
        st.Page(VIEWS / file, title=title, icon=icon, default=index == 0)
        for index, (file, title, icon) in enumerate(PAGES)
    ]
    page = st.navigation(pages, expanded=True)  # every page listed: a reader should not hunt for one
    st.sidebar.markdown("**tiermix** · model mix")
    cache.use_connection(cache.Connection(config.api_url, _read_key(config)))
    st.session_state[_TITLE_SHOWN] = False
    footer_drawn = False
    try:
        now = datetime.now(timezone.utc)
        options = cache.load("dimensions", filters.preset_range("1h", now)[1])
        tiers.remember(cache.load("tier_names"))
        components.use_filters(filters.sidebar_filters(options, now))
        # Before the page: a page that ends early with st.stop() (nothing to show yet, a key to ask
        # for) still has the link and the Refresh button, and a refresh skips the page's stale run.
        _sidebar_footer(config, page.url_path)
        footer_drawn = True
        page.run()
    except ApiUnauthorized as exc:
        if not st.session_state.get(_NEEDS_KEY):
            st.session_state[_NEEDS_KEY] = True
            st.rerun()  # show the key input at the top of the sidebar
        _failed(page.title, exc)
    except ApiError as exc:
        _failed(page.title, exc)
    if not footer_drawn:
        _sidebar_footer(config, page.url_path)


def _failed(title: str, exc: ApiError) -> None:
    """The page could not be drawn: keep its title so the user knows where they are, then say why."""
    if not st.session_state.get(_TITLE_SHOWN):
        st.title(title)
    components.api_error(exc)


def _read_key(config: DashboardConfig) -> str | None:
    """The key typed in the sidebar wins over ``TIERMIX_API_KEY``; asked for only once the API wants one."""
    if st.session_state.get(_NEEDS_KEY) or st.session_state.get(_KEY_INPUT):
        typed = st.sidebar.text_input(
            "Read API key",
            type="password",
            key=_KEY_INPUT,
            help=f"A key with scope read ({READ_KEY_COMMAND}). A tenant-bound key (--tenant NAME) shows "
            "that tenant only.",
        )
        if typed.strip():
            return typed.strip()
    return config.api_key


def _sidebar_footer(config: DashboardConfig, url_path: str) -> None:
    st.sidebar.divider()
    if config.dashboard_url and components.has_filters():
        link = f"{config.dashboard_url}/{url_path}?{urlencode(components.current_filters().query_params())}"
        st.sidebar.markdown(f"[Link to this view]({link})", help="The page with these filters, to share.")
    if st.sidebar.button("Refresh data", icon=":material/refresh:", help="Numbers are cached for a minute."):
        cache.forget()
        st.rerun()
    st.sidebar.caption(f"API: {config.api_url}")


main()
