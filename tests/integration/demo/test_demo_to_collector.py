"""Demo traffic through the real SDK into a real collector: the rows the traffic model promised land."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from demo_support import stored_calls, wait_until

from tests.support.server import running_server
from tiermix_server.demo.catalog import MODELS, ROUTES, TENANTS
from tiermix_server.demo.runner import DemoPlan, run
from tiermix_server.demo.scenario import DAY_NS, HOUR_NS, NS_PER_S, Scenario
from tiermix_server.demo.sender import SdkSender
from tiermix_server.demo.traffic import TrafficModel
from tiermix_server.store.clickhouse import connect

RATE_PER_S = 0.05


def test_a_two_day_backfill_stores_every_call_with_the_tenants_routes_and_tiers_generated(
    settings: Any,
) -> None:
    anchor_ns = (time.time_ns() // NS_PER_S) * NS_PER_S
    plan = DemoPlan(rate_per_s=RATE_PER_S, backfill_days=2, duration_s=0, seed=21, anchor_ns=anchor_ns)
    with running_server(settings) as url:
        sender = SdkSender(url, seed=21)
        try:
            stats = run(plan, sender, show_progress=False)
            assert sender.flush()
            delivered = sender.calls_delivered
        finally:
            sender.close()
        client = connect(settings)
        wait_until(lambda: stored_calls(client) >= stats.backfill_calls)
        rows = client.query(
            "SELECT tenant, route, model, tier, unpriced, count() FROM llm_calls GROUP BY ALL"
        ).result_rows
        span = client.query(
            "SELECT toUnixTimestamp64Micro(min(ts)), toUnixTimestamp64Micro(max(ts)), uniqExact(request_id), "
            "countIf(escalated), countIf(failover), countIf(final) FROM llm_calls"
        ).result_rows[0]

    # The backfill is every request that ended by the anchor (one still running is the live phase's).
    model = TrafficModel(21, RATE_PER_S, Scenario.default(anchor_ns))
    expected_requests = [r for r in model.between(anchor_ns - 2 * DAY_NS, anchor_ns) if r.end_ns <= anchor_ns]
    expected = Counter((r.tenant, r.route, a.model.name) for r in expected_requests for a in r.attempts)
    stored = Counter({(tenant, route, model): n for tenant, route, model, _, _, n in rows})
    assert stats.backfill_calls == delivered == sum(expected.values()) == sum(stored.values())
    assert stored == expected
    assert {t for t, *_ in rows} == {t.name for t in TENANTS} and {r for _, r, *_ in rows} == set(ROUTES)
    intended_tier = {m.name: m.tier for m in MODELS}
    assert all(tier == intended_tier[model] for _, _, model, tier, _, _ in rows)  # the collector's tier map
    assert not any(unpriced for *_, unpriced, _ in rows)  # every demo model has a real price
    first_us, last_us, requests, escalated, failovers, final = span
    assert anchor_ns - 2 * DAY_NS <= first_us * 1000 < anchor_ns - 2 * DAY_NS + HOUR_NS
    assert anchor_ns - HOUR_NS < last_us * 1000 < anchor_ns
    assert requests == len(expected_requests)
    assert escalated == sum(a.outcome.value == "escalated" for r in expected_requests for a in r.attempts)
    assert failovers == sum(a.outcome.value == "failover" for r in expected_requests for a in r.attempts)
    assert final == sum(r.answered_tier is not None for r in expected_requests)


def test_the_demo_command_sends_to_a_running_collector_and_reports_what_it_sent(settings: Any) -> None:
    with running_server(settings) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TIERMIX_", "OTEL_"))}
        result = subprocess.run(
            [sys.executable, "-m", "tiermix_server.cli", "demo", "--endpoint", url, "--backfill", "0.05",
             "--duration", "0", "--seed", "4", "--rate", "0.5"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        last = result.stdout.strip().splitlines()[-1]
        sent = int(last.split("sent ")[1].split(" calls")[0].replace(",", ""))
        assert last.endswith(f"{sent:,} delivered")
        assert "backfill 0.05d" in result.stderr and "scripted events" in result.stderr
        client = connect(settings)
        assert wait_until(lambda: stored_calls(client) == sent, timeout_s=30)


def test_the_demo_command_without_a_collector_stops_with_one_line() -> None:
    from tests.conftest import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "tiermix_server.cli", "demo", "--endpoint", endpoint, "--duration", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tiermix: error: no collector answers at {endpoint} ([Errno 111] Connection refused): "
        "start one with `tiermix up`, or pass --endpoint"
    ]
