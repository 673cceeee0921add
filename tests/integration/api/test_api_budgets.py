"""Budgets through the API as a FinOps user sets and reads them: exact spend, forecast, run-out, scopes.

Calls are inserted with known costs: tenant ``acme`` spends $2 an hour on ``chat`` and $1 an hour on
``search`` (every hour since 40 days ago, shadow replays' calls included), tenant ``beta`` $5 an hour.
Every figure the API returns is recomputed here from those rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.support.calls import CallRow, insert_calls
from tests.support.server import running_server

_ids = itertools.count(1)
HOURLY = {("acme", "chat", "prod"): 1.5, ("acme", "chat", "shadow"): 0.5, ("acme", "search", "prod"): 1.0,
          ("beta", "chat", "prod"): 5.0}  # fmt: skip


def call(
    ts: datetime, tenant: str, route: str, environment: str, cost: float, unpriced: bool = False
) -> CallRow:
    n = next(_ids)
    return CallRow(
        ts=ts, span_id=n, request_id=n, attempt=0, final=True, escalated=False, failover=False,
        escalation_reason="", tenant=tenant, route=route, environment=environment, provider="openai",
        model="gpt-4o", tier="frontier", input_tokens=100, output_tokens=10, cache_read_tokens=0,
        cost_usd=0.0 if unpriced else cost, unpriced=unpriced, status="ok", duration_ms=100.0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def api(chdb_dir: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, datetime, Any]]:
    import os

    from tests.conftest import free_port
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key
    from tiermix_server.settings import Settings
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("budgets"), clickhouse_url=f"chdb://{chdb_dir}",
        clickhouse_database=f"budgets_{os.getpid()}", port=free_port(), dashboard_port=free_port(),
        alerts_enabled=False,
    )  # fmt: skip
    client = connect(settings)
    migrate(client, settings)
    now = datetime.now(timezone.utc).replace(minute=30, second=0, microsecond=0)
    start = (now - timedelta(days=40)).replace(hour=0)
    rows = []
    hour = start
    while hour < now:
        rows += [call(hour, t, r, e, cost) for (t, r, e), cost in HOURLY.items()]
        hour += timedelta(hours=1)
    rows.append(call(now - timedelta(minutes=10), "acme", "chat", "prod", 0.0, unpriced=True))
    insert_calls(client, rows)
    meta = open_meta(settings)
    keys = {
        "admin": create_key(meta, scope="admin", tenant=None).key,
        "acme_admin": create_key(meta, scope="admin", tenant="acme").key,
        "acme_read": create_key(meta, scope="read", tenant="acme").key,
    }
    with running_server(settings) as url:
        yield url, keys, now, settings
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


def request(api: Any, method: str, path: str, key: str, body: Any = None) -> httpx.Response:
    url, keys, _, _ = api
    return httpx.request(
        method, url + path, json=body, headers={"authorization": f"Bearer {keys[key]}"}, timeout=30
    )


def spent_since(first: date, now: datetime, per_hour: float) -> float:
    """What was spent from midnight of ``first`` to ``now`` at ``per_hour`` (calls on the half hour)."""
    since = now - datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
    return int(since / timedelta(hours=1)) * per_hour  # the calls of 00:30, 01:30, … before now


def test_a_month_budget_reports_the_exact_spend_so_far_and_a_forecast_with_an_interval(api: Any) -> None:
    _, _, now, _ = api
    created = request(api, "POST", "/api/v1/budgets", "acme_admin", {"route": "chat", "amount_usd": 1000})
    assert created.status_code == 201, created.text
    status = created.json()
    month = now.date().replace(day=1)
    assert status["budget"]["tenant"] == "acme" and status["budget"]["period"] == "month"
    assert status["period_start"] == month.isoformat()
    assert status["spent_usd"] == pytest.approx(spent_since(month, now, 2.0))  # shadow replays count
    assert status["spent_ratio"] == pytest.approx(status["spent_usd"] / 1000)
    assert status["unpriced_calls"] == 1 and "1 unpriced call" in status["note"]
    assert status["burn_rate_usd_per_day"] == pytest.approx(48.0)
    forecast = status["forecast"]
    next_month = (month + timedelta(days=32)).replace(day=1)
    truth = (next_month - month).days * 48.0  # a flat $48 a day
    # (the synthetic spend is exactly flat, so the interval is as narrow as the model can make it; its
    # coverage on noisy series is tests/unit/metrics/test_forecast.py's)
    assert (
        forecast["estimate"] is True and forecast["low_usd"] <= forecast["point_usd"] <= forecast["high_usd"]
    )
    assert forecast["point_usd"] == pytest.approx(truth, rel=0.01)
    assert status["forecast_ratio"] == pytest.approx(forecast["point_usd"] / 1000)
    # $48 a day against $1000: the budget runs out on the 21st (20 full days = $960, day 21 passes it)
    if now.day < 21:
        assert status["runs_out_on"] == month.replace(day=21).isoformat() and status["exceeded_on"] is None
    else:
        assert status["exceeded_on"] == month.replace(day=21).isoformat()


def test_custom_periods_tenant_wide_budgets_and_a_finished_period(api: Any) -> None:
    _, _, now, _ = api
    first, end = now.date() - timedelta(days=30), now.date() - timedelta(days=20)
    body = {"tenant": "beta", "amount_usd": 2000, "period": "custom", "starts_on": first.isoformat(),
            "ends_on": end.isoformat()}  # fmt: skip
    status = request(api, "POST", "/api/v1/budgets", "admin", body).json()
    assert status["spent_usd"] == pytest.approx(10 * 24 * 5.0) and status["spent_ratio"] == pytest.approx(0.6)
    assert status["forecast"]["point_usd"] == status["spent_usd"] and "final" in status["note"]
    everyone = request(api, "POST", "/api/v1/budgets", "admin", {"amount_usd": 100000}).json()
    month = now.date().replace(day=1)
    assert everyone["spent_usd"] == pytest.approx(spent_since(month, now, 8.0))


def test_keys_see_and_change_only_what_they_may(api: Any) -> None:
    mine = request(api, "POST", "/api/v1/budgets", "acme_admin", {"amount_usd": 50, "route": "search"}).json()
    theirs = request(api, "POST", "/api/v1/budgets", "admin", {"tenant": "beta", "amount_usd": 50}).json()
    seen = request(api, "GET", "/api/v1/budgets", "acme_read").json()["budgets"]
    assert seen and {s["budget"]["tenant"] for s in seen} == {"acme"}
    assert request(api, "GET", f"/api/v1/budgets/{theirs['budget']['id']}", "acme_read").status_code == 404
    assert request(api, "POST", "/api/v1/budgets", "acme_read", {"amount_usd": 5}).status_code == 403
    refused = request(api, "POST", "/api/v1/budgets", "acme_admin", {"tenant": "beta", "amount_usd": 5})
    assert refused.status_code == 403
    assert (
        request(api, "DELETE", f"/api/v1/budgets/{theirs['budget']['id']}", "acme_admin").status_code == 404
    )
    replaced = request(api, "PUT", f"/api/v1/budgets/{mine['budget']['id']}", "acme_admin",
                       {"amount_usd": 75, "route": "search"})  # fmt: skip
    assert replaced.status_code == 200 and replaced.json()["budget"]["amount_usd"] == 75
    assert request(api, "DELETE", f"/api/v1/budgets/{mine['budget']['id']}", "acme_admin").status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "amount_usd"),
        ({"amount_usd": -1}, "amount_usd"),
        ({"amount_usd": True}, "amount_usd"),
        ({"amount_usd": 10, "period": "week"}, "period"),
        (
            {"amount_usd": 10, "period": "custom", "starts_on": "2026-02-30", "ends_on": "2026-03-01"},
            "YYYY-MM-DD",
        ),
        ({"amount_usd": 10, "period": "custom", "starts_on": "2026-03-05", "ends_on": "2026-03-01"}, "after"),
        ({"amount_usd": 10, "starts_on": "2026-03-01"}, "period custom"),
        ({"amount_usd": 10, "colour": "red"}, "unknown"),
        ({"amount_usd": 10, "tenant": 5}, "tenant"),
    ],
)
def test_a_bad_budget_is_refused_with_the_reason(api: Any, body: dict[str, Any], message: str) -> None:
    response = request(api, "POST", "/api/v1/budgets", "admin", body)
    assert response.status_code == 400 and message in response.json()["error"]["message"], response.text


def test_the_budget_alert_metrics_read_each_budgets_standing(api: Any) -> None:
    """Grouped by tenant, each tenant's worst budget; the same figures the API shows."""
    from tiermix_server.alerts.metric_adapter import ClickHouseMetrics
    from tiermix_server.alerts.notification import encode_group
    from tiermix_server.alerts.rules import RuleSpec
    from tiermix_server.meta.budgets import list_budgets
    from tiermix_server.meta.db import open_meta
    from tiermix_server.store.clickhouse import connect

    _, _, now, settings = api
    statuses = request(api, "GET", "/api/v1/budgets", "admin").json()["budgets"]
    metrics = ClickHouseMetrics(connect(settings), lambda: ("small", "frontier"), lambda *a: None,
                                lambda: list_budgets(open_meta(settings)))  # fmt: skip
    for metric, field in (("budget_spent_ratio", "spent_ratio"), ("budget_forecast_ratio", "forecast_ratio")):
        spec = RuleSpec.model_validate(
            {
                "name": metric,
                "metric": metric,
                "group_by": ["tenant"],
                "condition": {"op": ">", "threshold": 1},
            }
        )
        found = metrics.measure(spec, now - timedelta(hours=1), now)
        for tenant in ("acme", "beta", ""):
            mine = [s[field] for s in statuses if (s["budget"]["tenant"] or "") == tenant]
            sample = found[encode_group({"tenant": tenant})]
            # (a forecast moves with the time of day: the API answered a moment earlier)
            assert sample.value == pytest.approx(max(mine), rel=1e-2) and sample.volume == len(mine)
    only_acme = RuleSpec.model_validate({"name": "a", "metric": "budget_spent_ratio",
                                         "filters": {"tenant": "acme"},
                                         "condition": {"op": ">", "threshold": 1}})  # fmt: skip
    (sample,) = metrics.measure(only_acme, now - timedelta(hours=1), now).values()
    assert sample.value == pytest.approx(
        max(s["spent_ratio"] for s in statuses if s["budget"]["tenant"] == "acme")
    )


def test_the_budgets_page_shows_each_budget_and_its_editor_saves_with_an_admin_key(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.integration.dashboard.conftest import APP, chart_series

    url, keys, _, _ = api
    made = request(api, "POST", "/api/v1/budgets", "acme_admin", {"amount_usd": 400, "route": "chat"}).json()
    monkeypatch.setenv("TIERMIX_API_URL", url)
    monkeypatch.setenv("TIERMIX_API_KEY", keys["acme_read"])
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    app.switch_page("views/budgets.py").run()
    assert not app.exception, [e.value for e in app.exception]
    table = next(t.value for t in app.dataframe if "forecast_share" in t.value.columns)
    row = table[table["id"] == made["budget"]["id"]].iloc[0]
    assert row["spent_usd"] == pytest.approx(made["spent_usd"]) and row["scope"] == "acme / chat"
    assert set(table["scope"].str.split(" ").str[0]) == {"acme"}, "a tenant's key sees its own budgets"
    app.selectbox(key="budgets_chosen").set_value(made["budget"]["id"]).run()
    series = chart_series(app, f"Budget #{made['budget']['id']}: spend and forecast")
    assert series["spent"]["y"][-1] == pytest.approx(made["spent_usd"])
    assert series["forecast (estimate)"]["y"][-1] == pytest.approx(made["forecast"]["point_usd"], rel=0.01)

    # Saving with the read key is refused and says why; with an admin key typed in, it is saved.
    def save(amount: float) -> None:  # a form's values are sent with its submit button
        app.number_input[0].set_value(amount)
        next(b for b in app.button if b.label == "Save budget").click().run()

    save(123.0)
    assert any("admin key" in w.value for w in app.warning)
    app.text_input(key="budgets_admin_input").set_value(keys["acme_admin"]).run()
    save(123.0)
    assert not app.exception, [e.value for e in app.exception]
    amounts = [
        s["budget"]["amount_usd"]
        for s in request(api, "GET", "/api/v1/budgets", "acme_read").json()["budgets"]
    ]
    assert 123.0 in amounts


def test_a_nul_in_a_name_is_refused_not_sent_to_the_database(api: Any) -> None:
    response = request(api, "POST", "/api/v1/budgets", "admin", {"amount_usd": 5, "tenant": "a\x00b"})
    assert response.status_code == 400 and "NUL" in response.text
