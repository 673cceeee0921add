"""Calls against a real API: the newest calls first, paging, and a cascade with its attempts."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from tests.integration.dashboard.conftest import SeededApi, table_with


def test_calls_are_listed_newest_first_one_page_at_a_time(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("calls")
    first = table_with(app, "escalation_reason")
    assert len(first) == 100
    assert first["ts"].is_monotonic_decreasing
    newest = max(seeded_api.current, key=lambda row: row.ts)
    assert first.iloc[0]["request_id"] == f"{newest.request_id:016x}"
    app.button(key="calls_older").click().run()
    second = table_with(app, "escalation_reason")
    assert second["ts"].max() <= first["ts"].min()
    assert "Page 2" in " ".join(caption.value for caption in app.caption)


def test_a_request_id_shows_every_attempt_of_its_cascade(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("calls")
    request_id = f"{seeded_api.cascade[0].request_id:016x}"
    app.text_input(key="calls_request_").set_value(request_id).run()
    assert not app.exception
    cascade = [table for table in app.dataframe if "request_id" not in table.value.columns]
    assert cascade, "the cascade table is shown"
    shown = cascade[0].value
    assert shown["tier"].tolist() == ["small", "mid", "frontier"]
    assert shown["escalated"].tolist() == [True, True, False]
    assert any("answered by **claude-opus-4-1** (frontier tier)" in text.value for text in app.markdown)


def test_filtering_on_status_shows_only_failed_calls(open_page: Callable[..., AppTest]) -> None:
    app = open_page("calls")
    app.selectbox(key="calls_status").set_value("error").run()
    assert set(table_with(app, "escalation_reason")["status"]) == {"error"}
