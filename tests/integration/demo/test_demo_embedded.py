"""``tiermix up --demo``: after start-up the server fills itself with demo traffic and its alert fires."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from demo_support import serving, stored_calls, wait_until

from tiermix_server.app import create_app
from tiermix_server.demo.embedded import DEFAULT_RULE, DEFAULT_RULE_NAME, attach_demo
from tiermix_server.demo.scenario import SPIKE_TENANT
from tiermix_server.store.clickhouse import connect

# 0.02 days (29 minutes) of history covers the start of the live spike (ten minutes before the anchor).
BACKFILL_DAYS = 0.02
QUICK_RULE = {**DEFAULT_RULE, "for": "3s"}


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_up_demo_backfills_keeps_traffic_live_and_the_scripted_spike_fires_the_default_alert(
    make_settings: Callable[..., Any],
) -> None:
    settings = make_settings(alerts_enabled=True, alerts_interval_s=1.0)
    app = create_app(settings)
    # The default rule as shipped, except a shorter `for` (30s) so the test does not idle; 5 requests/s
    # live (the default 0.3/s follows the scenario's day curve: at night UTC too few calls came in time).
    attach_demo(app, settings, backfill_days=BACKFILL_DAYS, rule=QUICK_RULE, rate_per_s=5.0)
    with serving(app, settings.port) as url:
        demo = app.state.demo
        assert wait_until(lambda: demo.child is not None, timeout_s=30)
        assert "--backfill" in demo.child.args and "0.02" in demo.child.args
        rules = get(f"{url}/api/v1/alerts/rules")["rules"]
        assert [r["name"] for r in rules] == [DEFAULT_RULE_NAME]
        client = connect(settings)
        assert wait_until(lambda: stored_calls(client) > 300, timeout_s=60)

        def firing_tenants() -> set[str]:
            states = get(f"{url}/api/v1/alerts/states")["states"]
            return {s["group"].get("tenant") for s in states if s["state"] == "firing"}

        assert wait_until(firing_tenants, timeout_s=90, interval_s=1.0) == {SPIKE_TENANT}
        child = demo.child
    assert child.returncode is not None  # stopping the server stopped the demo

    # A second `up --demo` on the same data keeps the history and the rule: no second week, no second rule.
    app = create_app(settings)
    attach_demo(app, settings, backfill_days=BACKFILL_DAYS, rule=QUICK_RULE)
    with serving(app, settings.port) as url:
        demo = app.state.demo
        assert wait_until(lambda: demo.child is not None, timeout_s=30)
        backfill = demo.child.args[demo.child.args.index("--backfill") + 1]
        assert backfill == "0"
        assert [r["name"] for r in get(f"{url}/api/v1/alerts/rules")["rules"]] == [DEFAULT_RULE_NAME]


def test_with_api_keys_the_demo_ingests_with_the_process_credential_and_revokes_its_setup_key(
    make_settings: Callable[..., Any],
) -> None:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key, list_keys

    settings = make_settings()
    operator_key = create_key(open_meta(settings), scope="admin", tenant=None, name="operator").key
    app = create_app(settings)
    attach_demo(app, settings, backfill_days=0.005)
    with serving(app, settings.port) as url:
        demo = app.state.demo
        assert wait_until(lambda: demo.child is not None, timeout_s=30)
        client = connect(settings)
        assert wait_until(lambda: stored_calls(client) > 20, timeout_s=60)
        request = urllib.request.Request(f"{url}/api/v1/alerts/rules")
        request.add_header("Authorization", f"Bearer {operator_key}")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert [r["name"] for r in json.loads(response.read())["rules"]] == [DEFAULT_RULE_NAME]
        keys = {k.name: k for k in list_keys(app.state.runtime.meta)}
        assert set(keys) == {"operator", "tiermix up --demo (setup, revoked)"}  # no stored ingest key
        setup = keys["tiermix up --demo (setup, revoked)"]
        assert setup.scope == "admin" and not setup.active
    after = {k.name: k for k in list_keys(open_meta(settings))}
    assert after["operator"].active


def test_creating_the_first_key_while_the_demo_runs_does_not_stop_its_traffic(
    make_settings: Callable[..., Any],
) -> None:
    """Auth turns on with the first key; the demo's in-process credential keeps it delivering."""
    from tiermix_server.meta.keys import create_key

    settings = make_settings()
    app = create_app(settings)
    # 5 requests/s: the default live rate (0.3/s) follows the scenario's day curve, and at night UTC it
    # sent fewer than 10 calls a minute, which failed this test half the time from 22:00 on.
    attach_demo(app, settings, backfill_days=0.002, rate_per_s=5.0)
    with serving(app, settings.port):
        demo = app.state.demo
        assert wait_until(lambda: demo.child is not None, timeout_s=30)
        client = connect(settings)
        assert wait_until(lambda: stored_calls(client) > 10, timeout_s=60)
        create_key(app.state.runtime.meta, scope="admin", tenant=None, name="first key")
        before = stored_calls(client)
        assert wait_until(lambda: stored_calls(client) > before + 10, timeout_s=60), "demo stopped delivering"
        refused = client.query(
            "SELECT sum(spans) FROM ingest_stats WHERE outcome = 'refused_request'"
        ).result_rows[0][0]
        assert not refused


def test_up_demo_sets_a_budget_near_overrun_and_a_bill_with_an_untracked_slice(
    make_settings: Callable[..., Any],
) -> None:
    from tiermix_server.demo.embedded import (
        DEMO_BILL_SOURCE,
        DEMO_BILL_UNTRACKED,
        DEMO_BUDGET_FORECAST_SHARE,
        DEMO_BUDGET_NAME,
    )

    settings = make_settings()
    app = create_app(settings)
    attach_demo(app, settings, backfill_days=1.5, rule=QUICK_RULE)  # a complete day of history at least
    with serving(app, settings.port) as url:

        def demo_budget() -> Any:
            found = [
                s for s in get(f"{url}/api/v1/budgets")["budgets"] if s["budget"]["name"] == DEMO_BUDGET_NAME
            ]
            return found[0] if found and found[0]["budget"]["amount_usd"] > 1 else None

        status = wait_until(demo_budget, timeout_s=240, interval_s=2.0)
        assert status, "the demo budget was never set"
        assert status["budget"]["tenant"] == "acme" and status["budget"]["period"] == "month"
        # set at 96% of the forecast; live traffic moves the forecast a little since
        assert abs(status["forecast_ratio"] - DEMO_BUDGET_FORECAST_SHARE) < 0.05, status
        assert status["forecast"]["history_days"] >= 1

        def bill() -> Any:
            sources = get(f"{url}/api/v1/bills/sources")["sources"]
            return sources if any(s["name"] == DEMO_BILL_SOURCE for s in sources) else None

        assert wait_until(bill, timeout_s=30), "the demo bill was never imported"
        found = get(f"{url}/api/v1/reconciliation")
        assert found["billed_usd"] > 0, "a listed source already has its days"
        # the bill's days: tracked / billed is 1 / 1.03, and the slice is untracked usage
        assert abs(found["coverage"] - 1 / (1 + DEMO_BILL_UNTRACKED)) < 0.005, found["coverage"]
        assert set(found["causes"]) == {"untracked_usage"}


def test_stopping_the_server_stops_the_demo_first_so_its_last_calls_arrive(
    make_settings: Callable[..., Any], capfd: pytest.CaptureFixture[str]
) -> None:
    """The demo's SDK flushes on SIGTERM: uvicorn used to close the port before the lifespan stopped the
    demo, so that flush met "connection refused" (and waited out its 10 s timeout) on every stop."""
    settings = make_settings()
    app = create_app(settings)
    attach_demo(app, settings, backfill_days=BACKFILL_DAYS, rate_per_s=5.0)
    with serving(app, settings.port):
        demo = app.state.demo
        client = connect(settings)
        assert wait_until(lambda: demo.child is not None, timeout_s=30)
        backfilled = wait_until(lambda: stored_calls(client), timeout_s=60)
        assert wait_until(lambda: stored_calls(client) > backfilled + 20, timeout_s=60)  # live traffic
        child = demo.child
    assert child.returncode == 0
    assert "failed" not in capfd.readouterr().err
