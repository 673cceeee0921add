"""What the dashboard says when there is nothing to show: no API, no calls yet, or no key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import free_port
from tests.integration.dashboard.conftest import APP, SeededApi, requests_of, shown
from tests.support.server import running_server

PAGES = (
    "overview",
    "tier_mix",
    "cost",
    "escalations",
    "drift",
    "replays",
    "budgets",
    "bills",
    "report",
    "alerts",
    "prices",
    "calls",
)


def run_app(monkeypatch: pytest.MonkeyPatch, api_url: str, page: str = "overview") -> AppTest:
    monkeypatch.setenv("TIERMIX_API_URL", api_url)
    monkeypatch.delenv("TIERMIX_API_KEY", raising=False)
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    if page != "overview":
        app.switch_page(f"views/{page}.py")
        app.run()
    return app


@pytest.mark.parametrize("page", PAGES)
def test_an_unreachable_api_gives_a_clear_message_on_every_page(
    monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    app = run_app(monkeypatch, f"http://127.0.0.1:{free_port()}", page)
    assert not app.exception, [item.value for item in app.exception]
    assert any("not reachable" in error.value for error in app.error)


def test_an_api_without_calls_shows_how_to_send_the_first_one(
    monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Any]
) -> None:
    with running_server(make_settings(ingest_workers=0)) as url:
        app = run_app(monkeypatch, url)
        assert not app.exception
        assert any("No LLM calls recorded yet" in info.value for info in app.info)
        snippet = " ".join(code.value for code in app.code)
        assert "tiermix.init(" in snippet and '@tiermix.observe(route="support.answer")' in snippet


def test_an_api_with_keys_asks_for_a_read_key_and_then_shows_that_tenant_only(
    monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Any], seeded_api: SeededApi
) -> None:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    settings = make_settings(clickhouse_database=seeded_api.settings.clickhouse_database, ingest_workers=0)
    key = create_key(open_meta(settings), scope="read", tenant="acme").key
    with running_server(settings) as url:
        monkeypatch.setenv("TIERMIX_API_URL", url)
        monkeypatch.delenv("TIERMIX_API_KEY", raising=False)
        app = AppTest.from_file(str(APP), default_timeout=60)
        app.query_params.update(seeded_api.day_params())
        app.run()
        assert not app.exception
        assert any("requires a read key" in warning.value for warning in app.warning)

        app.text_input(key="api_key_input").set_value(key).run()
        assert not app.exception, [item.value for item in app.exception]
        acme = [row for row in seeded_api.current if row.tenant == "acme"]
        assert shown(app)["Requests"] == f"{requests_of(acme):,}"
