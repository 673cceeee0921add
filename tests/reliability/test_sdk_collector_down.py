"""The application keeps running while its collector is down: the SDK through the REAL collector.

Without a spool the SDK's memory stays bounded (traced allocations, the queue at its cap), no call
raises, and every call is either stored or counted as dropped — the counts reach ``sdk_drops`` and the
data-health API once the collector is back, so ``stored + reported dropped = calls made`` exactly.
With a spool nothing is dropped: an outage spanning an application restart still ends with every call
stored exactly once (raw table and rollups). The SDK engineer's tests prove the same against a fake
sink; these go through ``POST /v1/traces`` of the real collector into ClickHouse.
"""

from __future__ import annotations

import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import tiermix
from tests.reliability.helpers import Server, reliability_settings, serve, wait_until
from tiermix import _runtime

pytestmark = pytest.mark.slow

FAST = {"export_interval_s": 0.05, "max_backoff_s": 0.05, "export_timeout_s": 2.0}


@tiermix.observe(route="outage.answer", provider="openai")
def answer(i: int) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [],
        "usage": {"prompt_tokens": 10 + i % 50, "completion_tokens": 3},
    }


def window() -> dict[str, str]:
    now = datetime.now(timezone.utc)
    return {"start": (now - timedelta(hours=1)).isoformat(), "end": (now + timedelta(minutes=5)).isoformat()}


def stored_calls(server: Server) -> int:
    return int(server.scalar("SELECT count() FROM llm_calls"))


def reported_drops(server: Server) -> int:
    return int(server.scalar("SELECT sum(dropped) FROM sdk_drops FINAL"))


def test_collector_down_keeps_sdk_memory_bounded_and_reports_every_drop_once_it_is_back(
    chdb_dir: Path, tmp_path: Path
) -> None:
    settings = reliability_settings(chdb_dir, tmp_path / "data")
    calls, cap = 100_000, 2_000
    tiermix.init(
        endpoint=f"http://127.0.0.1:{settings.port}", service="outage", environment="reliability",
        max_queue=cap, retry_window_s=0.2, **FAST,
    )  # fmt: skip
    try:
        rt = _runtime.RT
        assert rt is not None
        longest_queue = 0
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            with tiermix.context(tenant="acme"):
                for i in range(calls):
                    answer(i)  # raising here fails the test: the SDK must never raise into the app
                    if i % 1_000 == 0:
                        longest_queue = max(longest_queue, len(rt.queue))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        grown_mib = (peak - before) / 2**20
        # 100k recorded calls at ~0.5 KB each would be ~50 MiB if the queue were unbounded
        assert grown_mib < 16, f"SDK memory grew by {grown_mib:.1f} MiB with the collector down"
        assert longest_queue <= cap
        dropped_by_sdk = dict(rt.drops.total)
        assert dropped_by_sdk.get("queue_full", 0) > 0

        with serve(settings) as server:  # the collector comes up on the port the SDK sends to
            wait_until(
                lambda: stored_calls(server) + reported_drops(server) == calls, 60,
                "stored + reported dropped = calls made",
            )  # fmt: skip
            assert tiermix.flush(timeout_s=30) is False  # it finished, and says calls were dropped
            total_dropped = sum(rt.drops.total.values())
            assert reported_drops(server) == total_dropped
            assert stored_calls(server) == calls - total_dropped
            assert server.scalar("SELECT uniqExact(span_id) FROM llm_calls") == calls - total_dropped
            reasons = {reason for (reason,) in server.rows("SELECT DISTINCT reason FROM sdk_drops")}
            assert "queue_full" in reasons and reasons <= {"queue_full", "export_failed"}

            health = server.http.get("/api/v1/health/data", params=window())
            assert health.status_code == 200, health.text
            body = health.json()
            assert body["sdk_dropped"] == total_dropped
            assert {row["reason"]: row["dropped"] for row in body["sdk_drops"]} == {
                reason: n for reason, n in rt.drops.total.items() if n
            }
            assert body["calls"] == calls - total_dropped
    finally:
        tiermix.shutdown(timeout_s=5)


def test_with_a_spool_an_outage_across_an_app_restart_drops_nothing_and_stores_each_call_once(
    chdb_dir: Path, tmp_path: Path
) -> None:
    settings = reliability_settings(chdb_dir, tmp_path / "data")
    spool = tmp_path / "sdk-spool"
    endpoint = f"http://127.0.0.1:{settings.port}"
    options = {"endpoint": endpoint, "service": "outage", "spool_dir": str(spool), "retry_window_s": 0.2,
               **FAST}  # fmt: skip
    before_restart, after_restart = 3_000, 2_000
    dropped: dict[str, int] = {}
    try:
        tiermix.init(**options)
        with tiermix.context(tenant="acme"):
            for i in range(before_restart):
                answer(i)
        rt = _runtime.RT
        assert rt is not None
        dropped.update(rt.drops.total)
        tiermix.shutdown(timeout_s=10)  # the application stops while the collector is still down
        assert any(spool.rglob("*")), "nothing was spooled for the outage"

        tiermix.init(**options)  # the application restarts, the collector is still down
        with tiermix.context(tenant="acme"):
            for i in range(after_restart):
                answer(i)
        rt = _runtime.RT
        assert rt is not None

        with serve(settings) as server:
            total = before_restart + after_restart
            wait_until(lambda: stored_calls(server) >= total, 60, "every spooled call stored")
            assert tiermix.flush(timeout_s=30)
            dropped.update({k: v + dropped.get(k, 0) for k, v in rt.drops.total.items()})
            tiermix.shutdown(timeout_s=10)
            tiermix.init(**options)  # a further restart must not resend what was delivered
            assert tiermix.flush(timeout_s=10)

            assert dropped == {}, f"the SDK dropped calls despite its spool: {dropped}"
            assert stored_calls(server) == total
            assert server.scalar("SELECT uniqExact(span_id) FROM llm_calls") == total
            assert server.scalar("SELECT sum(calls) FROM llm_calls_1m") == total
            assert server.scalar("SELECT sum(calls) FROM llm_calls_1h") == total
            assert reported_drops(server) == 0
            assert not [path for path in spool.rglob("*") if path.is_file() and path.stat().st_size > 0]
            summary = server.http.get("/api/v1/summary", params=window()).json()
            assert summary["calls"] == total
    finally:
        tiermix.shutdown(timeout_s=5)
