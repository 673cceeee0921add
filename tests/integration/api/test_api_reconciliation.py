"""Reconciliation against the providers' bills, end to end: sources set through the API, a sync against
fakes of the OpenAI and Anthropic cost APIs (tests/fakes/billing_apis.py), and a scripted bill that
differs from the telemetry in known ways. The exact coverage and each gap's cause are checked.

Telemetry, every day D1..D4 (the four days before today):
- openai ``gpt-4o-mini-2024-07-18``: 10 calls of 1,000 + 100 tokens at $0.01 = $0.10 a day;
- anthropic ``claude-3-5-haiku-20241022``: 5 calls of 500 + 50 tokens at $0.02 = $0.10 a day; on D1 one
  more call that returned no usage (stored unpriced, ``no_usage``).

The bill: D1 openai equal; D2 openai a quarter more calls than telemetry saw (usage and cost x 1.25);
D3 openai a model telemetry never saw (``gpt-4.1``, $3.00); D1 anthropic the usage-less call billed
($0.02 more); D4 anthropic a price change (tokens equal, cost x 1.1). Everything else equal.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.fakes.billing_apis import BillingApis
from tests.support.calls import CallRow, insert_calls
from tests.support.server import running_server

_ids = itertools.count(1)
OPENAI_MODEL, ANTHROPIC_MODEL = "gpt-4o-mini-2024-07-18", "claude-3-5-haiku-20241022"


def call(day: date, provider: str, model: str, tokens: tuple[int, int], cost: float, **extra: Any) -> CallRow:
    n = next(_ids)
    ts = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc) + timedelta(seconds=n)
    return CallRow(
        ts=ts, span_id=n, request_id=n, attempt=0, final=True, escalated=False, failover=False,
        escalation_reason="", tenant="acme", route="chat", environment="prod", provider=provider, model=model,
        tier="small", input_tokens=tokens[0], output_tokens=tokens[1], cache_read_tokens=0, cost_usd=cost,
        unpriced=False, status="ok", duration_ms=100.0, **extra,
    )  # fmt: skip


@dataclass
class Stack:
    url: str
    settings: Any
    bills: BillingApis
    keys: dict[str, str]
    days: list[date]

    def call(self, method: str, path: str, key: str = "admin", **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.keys[key]}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=120, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()


def script_bill(bills: BillingApis, days: list[date]) -> None:
    d1, d2, d3, d4 = days
    for day in days:
        scale = 1.25 if day == d2 else 1.0
        bills.openai_costs[day] = [
            (f"{OPENAI_MODEL}, input", 0.06 * scale),
            (f"{OPENAI_MODEL}, output", 0.04 * scale),
        ]
        bills.openai_usage[day] = [
            (OPENAI_MODEL, int(10_000 * scale), int(1_000 * scale), 0, int(10 * scale))
        ]
        bills.anthropic_costs[day] = [(f"Claude Haiku 3.5 Usage - {ANTHROPIC_MODEL}", ANTHROPIC_MODEL, 0.10)]
        bills.anthropic_usage[day] = [(ANTHROPIC_MODEL, 2_500, 0, 250)]
    bills.openai_costs[d3].append(("gpt-4.1-2025-04-14, input", 3.00))
    bills.anthropic_costs[d1] = [(f"Claude Haiku 3.5 Usage - {ANTHROPIC_MODEL}", ANTHROPIC_MODEL, 0.12)]
    bills.anthropic_usage[d1] = [(ANTHROPIC_MODEL, 3_000, 0, 300)]
    bills.anthropic_costs[d4] = [(f"Claude Haiku 3.5 Usage - {ANTHROPIC_MODEL}", ANTHROPIC_MODEL, 0.11)]


@pytest.fixture(scope="module")
def stack(chdb_dir: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key
    from tiermix_server.settings import Settings
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("bills"), clickhouse_url=f"chdb://{chdb_dir}",
        clickhouse_database=f"bills_{os.getpid()}", port=free_port(), dashboard_port=free_port(),
        alerts_enabled=False, bills_sync_interval_s=0,
    )  # fmt: skip
    client = connect(settings)
    migrate(client, settings)
    today = datetime.now(timezone.utc).date()
    days = [today - timedelta(days=k) for k in (4, 3, 2, 1)]
    rows = []
    for day in days:
        rows += [call(day, "openai", OPENAI_MODEL, (1_000, 100), 0.01) for _ in range(10)]
        rows += [call(day, "anthropic", ANTHROPIC_MODEL, (500, 50), 0.02) for _ in range(5)]
    usage_less = call(days[0], "anthropic", ANTHROPIC_MODEL, (0, 0), 0.0, price_source="no_usage")
    rows.append(replace(usage_less, unpriced=True))
    insert_calls(client, rows)
    meta = open_meta(settings)
    keys = {"admin": create_key(meta, scope="admin", tenant=None).key,
            "read": create_key(meta, scope="read", tenant=None).key,
            "tenant_admin": create_key(meta, scope="admin", tenant="acme").key}  # fmt: skip
    with BillingApis() as bills, running_server(settings) as url:
        script_bill(bills, days)
        yield Stack(url, settings, bills, keys, days)
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


def add_sources(stack: Stack) -> None:
    for name, kind, key in (("openai-org", "openai", stack.bills.openai_key),
                            ("anthropic-org", "anthropic", stack.bills.anthropic_key)):  # fmt: skip
        body = {
            "name": name,
            "kind": kind,
            "base_url": stack.bills.base_url,
            "admin_key": key,
            "backfill_days": 5,
        }
        stack.ok("PUT", "/api/v1/bills/sources", json=body)


def reconciliation(stack: Stack) -> Any:
    end = stack.days[-1] + timedelta(days=1)
    return stack.ok("GET", f"/api/v1/reconciliation?start={stack.days[0]}&end={end}", key="read")


def test_the_reconciliation_reports_the_exact_coverage_and_each_gap_its_cause(stack: Stack) -> None:
    add_sources(stack)
    synced = stack.ok("POST", "/api/v1/bills/sync", json={})["synced"]
    assert {s["source"]: s["error"] for s in synced} == {"anthropic-org": None, "openai-org": None}
    assert stack.bills.requests["/v1/organization/costs"] >= 3, "5 days at 2 buckets a page: 3 pages"
    found = reconciliation(stack)
    d1, d2, d3, d4 = (str(d) for d in stack.days)
    billed = (0.10 + 0.125 + 3.10 + 0.10) + (0.12 + 0.10 + 0.10 + 0.11)
    tracked = 0.4 + 0.4
    assert found["billed_usd"] == pytest.approx(billed)
    assert found["tracked_usd"] == pytest.approx(tracked)
    assert found["coverage"] == pytest.approx(tracked / billed)
    assert found["causes"] == pytest.approx(
        {
            "untracked_usage": 0.025,
            "absent_from_telemetry": 3.00,
            "usage_less_calls": 0.02,
            "price_differs": 0.01,
        }
    )
    rows = {(r["day"], r["provider"], r["model"]): r for r in found["rows"]}
    assert rows[(d1, "openai", "gpt-4o-mini")]["coverage"] == pytest.approx(1.0)
    assert rows[(d1, "openai", "gpt-4o-mini")]["causes"] == {}
    untracked = rows[(d2, "openai", "gpt-4o-mini")]
    assert untracked["coverage"] == pytest.approx(0.8) and untracked["billed_tokens"] == 13_750
    assert untracked["causes"] == pytest.approx({"untracked_usage": 0.025})
    absent = rows[(d3, "openai", "gpt-4.1")]
    assert absent["calls"] == 0 and absent["causes"] == pytest.approx({"absent_from_telemetry": 3.0})
    usage_less = rows[(d1, "anthropic", "claude-3-5-haiku")]
    assert usage_less["usage_less_calls"] == 1 and usage_less["causes"] == pytest.approx(
        {"usage_less_calls": 0.02}
    )
    price = rows[(d4, "anthropic", "claude-3-5-haiku")]
    assert price["billed_tokens"] == price["tracked_tokens"] == 2_750
    assert price["causes"] == pytest.approx({"price_differs": 0.01})
    days = {(d["day"], d["provider"]): d for d in found["days"]}
    assert days[(d3, "openai")]["coverage"] == pytest.approx(0.10 / 3.10)
    assert sorted(found["sources"]) == ["anthropic-org", "openai-org"]


def test_a_sync_again_replaces_the_days_and_never_doubles_them(stack: Stack) -> None:
    before = reconciliation(stack)
    stack.ok("POST", "/api/v1/bills/sync", json={"days": 6})
    assert reconciliation(stack)["billed_usd"] == pytest.approx(before["billed_usd"])
    d1 = stack.days[0]
    stack.bills.openai_costs[d1] = [(f"{OPENAI_MODEL}, input", 0.10)]  # the provider settled the day again
    stack.ok("POST", "/api/v1/bills/sync", json={"source": "openai-org", "days": 6})
    after = reconciliation(stack)
    assert after["billed_usd"] == pytest.approx(before["billed_usd"])  # 0.06 + 0.04 became one 0.10 line
    lines = [r for r in after["rows"] if r["day"] == str(d1) and r["provider"] == "openai"]
    assert lines[0]["billed_usd"] == pytest.approx(0.10)
    sources = {s["name"]: s for s in stack.ok("GET", "/api/v1/bills/sources")["sources"]}
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    assert sources["openai-org"]["synced_through"] == str(yesterday), "today is billed still: fetched again"
    assert sources["openai-org"]["admin_key"] == "set" and stack.bills.openai_key not in str(sources)


def test_rate_limits_are_retried_and_a_refused_key_is_kept_as_the_sources_error(stack: Stack) -> None:
    stack.bills.fail_next(429, 1)
    synced = stack.ok("POST", "/api/v1/bills/sync", json={"source": "anthropic-org"})["synced"]
    assert synced[0]["error"] is None
    body = {
        "name": "anthropic-org",
        "kind": "anthropic",
        "base_url": stack.bills.base_url,
        "admin_key": "sk-ant-wrong",
    }
    stack.ok("PUT", "/api/v1/bills/sources", json=body)
    (result,) = stack.ok("POST", "/api/v1/bills/sync", json={"source": "anthropic-org"})["synced"]
    assert "refused the admin key (HTTP 401)" in result["error"]
    source = {s["name"]: s for s in stack.ok("GET", "/api/v1/bills/sources")["sources"]}["anthropic-org"]
    assert "refused the admin key" in source["last_error"]
    assert reconciliation(stack)["billed_usd"] > 0, "a failed sync keeps the days already synced"
    body["admin_key"] = stack.bills.anthropic_key
    stack.ok("PUT", "/api/v1/bills/sources", json=body)
    assert (
        stack.ok("POST", "/api/v1/bills/sync", json={"source": "anthropic-org"})["synced"][0]["error"] is None
    )


def test_only_all_tenants_keys_see_bills_and_a_bad_request_says_why(stack: Stack) -> None:
    assert stack.call("GET", "/api/v1/reconciliation", key="tenant_admin").status_code == 403
    assert stack.call("GET", "/api/v1/bills/sources", key="tenant_admin").status_code == 403
    assert stack.call("GET", "/api/v1/bills/sources", key="read").status_code == 403
    assert stack.call("POST", "/api/v1/bills/sync", key="read", json={}).status_code == 403
    bad = stack.call("GET", "/api/v1/reconciliation?start=2026-13-01", key="read")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    refused = stack.call("PUT", "/api/v1/bills/sources", json={"name": "x", "kind": "openai"})
    assert refused.status_code == 400 and "admin key" in refused.text


def test_a_focus_export_is_imported_and_reconciled_like_an_api_bill(stack: Stack) -> None:
    d1, d2 = stack.days[0], stack.days[1]
    focus = (
        "BillingCurrency,BilledCost,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ProviderName,ServiceName,"
        "ChargeDescription,x_Model\n"
        f"USD,1.50,{d1}T00:00:00Z,{d2}T00:00:00Z,Usage,AWS,Amazon Bedrock,Claude input,claude-3-haiku\n"
        f"USD,0.30,{d1}T00:00:00Z,{d2}T00:00:00Z,Tax,AWS,Amazon Bedrock,Tax,\n"
    )
    imported = stack.ok("POST", "/api/v1/bills/import?source=aws-cur", content=focus,
                        headers={"content-type": "text/csv"})  # fmt: skip
    assert imported["format"] == "focus" and imported["billed_usd"] == pytest.approx(1.50)
    assert imported["not_usage_rows"] == 1 and imported["not_usage_usd"] == pytest.approx(0.30)
    found = stack.ok("GET", f"/api/v1/reconciliation?start={d1}&end={d2}&provider=aws.bedrock", key="read")
    (row,) = found["rows"]
    assert row["model"] == "claude-3-haiku" and row["billed_usd"] == pytest.approx(1.50)
    assert row["causes"] == pytest.approx({"absent_from_telemetry": 1.50})
    broken = stack.call(
        "POST", "/api/v1/bills/import?source=aws-cur", content="date,provider,cost_usd\nsoon,x,abc\n"
    )
    assert broken.status_code == 400 and "line 2" in broken.text
    assert stack.ok("GET", f"/api/v1/reconciliation?start={d1}&end={d2}&provider=aws.bedrock", key="read")[
        "billed_usd"
    ] == pytest.approx(1.50), "a refused file leaves the bill as it was"


def test_the_alert_metric_and_the_chargeback_state_the_coverage(stack: Stack) -> None:
    from tiermix_server.alerts.metric_adapter import ClickHouseMetrics
    from tiermix_server.alerts.notification import encode_group
    from tiermix_server.alerts.rules import RuleSpec
    from tiermix_server.store.clickhouse import connect

    d3 = stack.days[2]
    metrics = ClickHouseMetrics(connect(stack.settings), lambda: ("small", "frontier"), lambda *a: None)
    spec = RuleSpec.model_validate({"name": "c", "metric": "bill_coverage", "window": "1d",
                                    "condition": {"op": "<", "threshold": 0.95}})  # fmt: skip
    window_end = datetime(d3.year, d3.month, d3.day, tzinfo=timezone.utc) + timedelta(days=1, hours=5)
    sample = metrics.measure(spec, window_end - timedelta(days=1), window_end)[encode_group({})]
    day = stack.ok("GET", f"/api/v1/reconciliation?start={d3}&end={d3 + timedelta(days=1)}", key="read")
    assert sample.value == pytest.approx(day["coverage"]) and sample.volume == 1
    assert sample.value == pytest.approx(0.2 / 3.2)  # D3: $0.20 tracked of $3.20 billed (the absent model)
    month = f"{stack.days[0]:%Y-%m}"
    rows = stack.ok("GET", f"/api/v1/export/chargeback?start={stack.days[0]}T00:00:00Z", key="read")["rows"]
    covered = [r for r in rows if r["ProviderName"] == "openai" and f"{r['BillingPeriodStart'][:7]}" == month]
    assert covered and all(0 < r["x_BillCoverage"] < 1 for r in covered)
    tenant_rows = stack.ok("GET", f"/api/v1/export/chargeback?start={stack.days[0]}T00:00:00Z",
                           key="tenant_admin")["rows"]  # fmt: skip
    assert tenant_rows and all(r["x_BillCoverage"] is None for r in tenant_rows)


def test_the_bills_cli_adds_syncs_imports_and_reconciles(stack: Stack, tmp_path: Any) -> None:
    import subprocess
    import sys

    def tiermix(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "TIERMIX_API_KEY": stack.keys["admin"], **(env or {})}
        command = [sys.executable, "-m", "tiermix_server.cli", *args, "--server", stack.url]
        return subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=120, check=False
        )

    added = tiermix("bills", "add", "cli-openai", "--kind", "openai", "--base-url", stack.bills.base_url,
                    "--admin-key-env", "OPENAI_ADMIN", "--backfill-days", "5",
                    env={"OPENAI_ADMIN": stack.bills.openai_key})  # fmt: skip
    assert added.returncode == 0 and "admin key set" in added.stdout, added.stderr
    synced = tiermix("bills", "sync", "--source", "cli-openai")
    assert synced.returncode == 0 and "cli-openai: 5 day(s)" in synced.stdout, synced.stdout + synced.stderr
    listed = tiermix("bills", "sources")
    assert "cli-openai" in listed.stdout and stack.bills.openai_key not in listed.stdout
    bill = tmp_path / "bill.csv"
    bill.write_text(f"date,provider,model,cost_usd\n{stack.days[1]},mistral,mistral-large,0.75\n")
    imported = tiermix("bills", "import", str(bill), "--source", "mistral-invoice")
    assert imported.returncode == 0 and "$0.7500 billed" in imported.stdout, imported.stderr
    reconciled = tiermix("bills", "reconcile", "--from", str(stack.days[0]), "--until", str(stack.days[-1]),
                         env={"TIERMIX_API_KEY": stack.keys["read"]})  # fmt: skip
    assert reconciled.returncode == 0, reconciled.stderr
    assert "coverage" in reconciled.stdout and "absent_from_telemetry" in reconciled.stdout
    assert "mistral" in reconciled.stdout
    removed = tiermix("bills", "remove", "cli-openai")
    assert removed.returncode == 0


def test_the_server_syncs_its_sources_on_a_schedule(make_settings: Any) -> None:
    from tiermix_server.meta import bill_sources
    from tiermix_server.meta.db import open_meta

    settings = make_settings(bills_sync_interval_s=0.5)
    with BillingApis() as bills:
        day = datetime.now(timezone.utc).date() - timedelta(days=1)
        bills.openai_costs[day] = [("gpt-4o-2024-08-06, input", 4.25)]
        bill_sources.put_source(open_meta(settings), bill_sources.validate(
            {"name": "scheduled", "kind": "openai", "base_url": bills.base_url, "admin_key": bills.openai_key,
             "backfill_days": 3}))  # fmt: skip
        with running_server(settings) as url:
            deadline = datetime.now(timezone.utc) + timedelta(seconds=30)
            while datetime.now(timezone.utc) < deadline:
                found = httpx.get(f"{url}/api/v1/reconciliation", timeout=30).json()
                if found["billed_usd"]:
                    break
            assert found["billed_usd"] == pytest.approx(4.25) and found["sources"] == ["scheduled"]
            synced = bill_sources.get_source(open_meta(settings), "scheduled")
            assert synced.synced_through == datetime.now(timezone.utc).date() - timedelta(days=1)
