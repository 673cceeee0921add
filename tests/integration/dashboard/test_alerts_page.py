"""Alerts against the real alerts API: create, disable, silence and delete a rule from the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from streamlit.testing.v1 import AppTest

from tests.integration.dashboard.conftest import SeededApi, table_with


def rules_by_name(api: SeededApi) -> dict[str, Any]:
    return {rule["name"]: rule for rule in httpx.get(f"{api.url}/api/v1/alerts/rules").json()["rules"]}


def create_from_the_form(app: AppTest, name: str) -> None:
    app.text_input(key="new_rule_name").set_value(name)
    app.number_input(key="new_rule_threshold").set_value(0.25)
    app.multiselect(key="new_rule_group_by").set_value(["tenant"])
    app.text_input(key="new_rule_route").set_value("support.answer")
    app.selectbox(key="new_rule_channel_type").set_value("webhook")
    app.text_input(key="new_rule_target").set_value("http://127.0.0.1:9/hook")
    app.button(key="new_rule_save").click().run()
    assert not app.exception, [item.value for item in app.exception]


def test_a_rule_created_in_the_form_is_stored_and_listed(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("alerts")
    create_from_the_form(app, "frontier spike from the page")
    stored = rules_by_name(seeded_api)["frontier spike from the page"]
    assert stored["metric"] == "frontier_share"
    assert stored["condition"]["threshold"] == 0.25
    assert stored["group_by"] == ["tenant"]
    assert stored["filters"]["route"] == "support.answer"
    # Readers see where it goes, not its path (docs/security.md); the metadata DB holds the URL typed.
    assert stored["channels"][0]["url"] == "http://127.0.0.1:9/***"
    from tiermix_server.alerts.store import list_rules
    from tiermix_server.meta.db import open_meta

    [kept] = [
        r for r in list_rules(open_meta(seeded_api.settings)) if r.name == "frontier spike from the page"
    ]
    assert kept.spec.channels[0].url == "http://127.0.0.1:9/hook"  # type: ignore[union-attr]
    listed = table_with(app, "condition")
    assert "value > 25.0%" in listed[listed["name"] == "frontier spike from the page"]["condition"].tolist()


def test_a_rule_can_be_disabled_silenced_and_deleted_from_the_page(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("alerts")
    create_from_the_form(app, "cost watch")
    rule_id = rules_by_name(seeded_api)["cost watch"]["id"]

    app.button(key=f"toggle_{rule_id}").click().run()
    assert rules_by_name(seeded_api)["cost watch"]["enabled"] is False

    app.selectbox(key=f"silence_for_{rule_id}").set_value("4h")
    app.button(key=f"silence_{rule_id}").click().run()
    silences = httpx.get(f"{seeded_api.url}/api/v1/alerts/silences").json()["silences"]
    assert [silence["rule_id"] for silence in silences].count(rule_id) == 1

    app.button(key=f"delete_{rule_id}").click().run()
    assert "cost watch" not in rules_by_name(seeded_api)
    assert not app.exception


def test_a_rejected_rule_shows_the_apis_reason(open_page: Callable[..., AppTest]) -> None:
    app = open_page("alerts")
    app.text_input(key="new_rule_name").set_value("bad window")
    app.text_input(key="new_rule_window").set_value("soon")
    app.button(key="new_rule_save").click().run()
    assert not app.exception
    assert any("window" in error.value for error in app.error)
