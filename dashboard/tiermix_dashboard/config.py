"""The dashboard's settings, read once from the environment at the entry point (``app.py``).

``tiermix up`` / ``tiermix dashboard`` start Streamlit with ``TIERMIX_API_URL`` (the query API base),
``TIERMIX_DASHBOARD_URL`` (its own public address, used in share links) and optionally
``TIERMIX_API_KEY`` (a read key). Nothing below the entry point reads ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_API_URL = "http://127.0.0.1:4318"
# What the dashboard tells a reader to run for a key (a test runs it through the CLI's own parser).
READ_KEY_COMMAND = "tiermix keys create --all-tenants --scope read"


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    api_url: str
    dashboard_url: str
    api_key: str | None


def load_config(environ: Mapping[str, str]) -> DashboardConfig:
    api_url = (environ.get("TIERMIX_API_URL") or DEFAULT_API_URL).rstrip("/")
    return DashboardConfig(
        api_url=api_url,
        dashboard_url=(environ.get("TIERMIX_DASHBOARD_URL") or "").rstrip("/"),
        api_key=environ.get("TIERMIX_API_KEY") or None,
    )
