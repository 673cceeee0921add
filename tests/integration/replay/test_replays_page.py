"""The dashboard's Replays page: the run's figures as the API computed them, every sample's verdict, and
an admin key asked for (never a read key's view) because the samples hold captured content."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.integration.dashboard.conftest import APP, shown
from tests.integration.replay.harness import ReplayStack, keyed_stack


def open_replays(monkeypatch: pytest.MonkeyPatch, url: str, key: str | None = None) -> AppTest:
    monkeypatch.setenv("TIERMIX_API_URL", url)
    if key is None:
        monkeypatch.delenv("TIERMIX_API_KEY", raising=False)
    else:
        monkeypatch.setenv("TIERMIX_API_KEY", key)
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    app.switch_page("views/replays.py")
    app.run()
    assert not app.exception, [item.value for item in app.exception]
    return app


def table_with(app: AppTest, column: str) -> Any:
    for element in app.dataframe:
        if column in element.value.columns:
            return element.value
    return None


def test_the_page_shows_the_runs_figures_and_every_samples_verdict(
    stack: ReplayStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = stack.wait(stack.replay(sample=40, seed=21)["id"])
    result = run["result"]
    app = open_replays(monkeypatch, stack.url)
    figures = shown(app)
    assert figures["Servable share"] == f"{result['servable']['share']:.1%}"
    moved = result["monthly_savings_usd"]["moved"]["point"]
    assert figures["Saving / month (estimate)"] == (f"${moved:,.2f}" if abs(moved) >= 1 else f"${moved:,.4f}")
    runs = table_with(app, "servable_share")
    assert runs is not None and int(runs.iloc[0]["id"]) == run["id"]
    samples = table_with(app, "candidate_answer")
    assert samples is not None and len(samples) == 40
    assert (samples["verdict"] == "servable").sum() == result["servable"]["servable"]
    assert samples["question"].str.startswith("Question ").all()
    assert "None" not in samples.astype(str).to_string()
    app.selectbox(key="replays_verdict").set_value(0).run()
    failed = table_with(app, "candidate_answer")
    assert failed is not None and len(failed) == 40 - result["servable"]["servable"]
    assert set(failed["verdict"]) == {"not servable"}


def test_a_read_key_is_asked_for_an_admin_key_and_sees_no_content(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {"admin": ("admin", "acme"), "read": ("read", "acme"), "ingest": ("ingest", "acme")}
    with keyed_stack(make_settings, **keys) as (stack, made):
        admin, read, ingest, url = made["admin"], made["read"], made["ingest"], stack.url
        stack.ok("PUT", "/api/v1/capture/policies", {"route": "quiz", "sample_rate": 1.0})
        assert stack.send_traffic(20, "--split", "5", "--api-key", ingest) == 20
        stack.wait_captured(20)
        run = stack.wait(stack.replay(sample=5)["id"])
        app = open_replays(monkeypatch, url, key=read)
        assert any("admin" in warning.value for warning in app.warning)
        assert table_with(app, "candidate_answer") is None and table_with(app, "servable_share") is None
        app.text_input(key="replays_admin_key_input").set_value(admin).run()
        assert not app.exception, [item.value for item in app.exception]
        samples = table_with(app, "candidate_answer")
        assert samples is not None and len(samples) == run["progress"]["judged"] == 5
        app.switch_page("views/overview.py").run()  # the admin key stays on the Replays page
        assert not app.exception
        assert app.session_state["tiermix_connection"].api_key == read
