"""Sustained load at a fixed rate for a fixed time: every call the SDK records is stored, exactly once.

Beside the SDK, a plain OTLP exporter checks the durability promise request by request: the spans of
every batch answered 200 are already in ClickHouse when the answer arrives.

Application threads record calls through the real ``tiermix`` SDK (``@tiermix.observe``, contexts,
cascades) at a fixed aggregate rate; the SDK exports to the real collector on 127.0.0.1, which writes
to ClickHouse (chDB). Afterwards the calls counted by the application equal the calls stored, per
tenant and in total, in the raw table, in both rollups and through the query API; and the SDK dropped
nothing. A lost batch, a double-counted replay or a rollup that disagrees with raw fails the test.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

import tiermix
from tests.reliability.helpers import Server, reliability_settings, serve, wait_until
from tests.unit.ingest.builders import body, next_span_id, sdk_attributes, span
from tiermix import _runtime

pytestmark = pytest.mark.slow

RATE_PER_S = 1_000  # calls per second, all threads together
DURATION_S = 15.0
THREADS = 8
ITERATIONS_PER_THREAD = round(DURATION_S * RATE_PER_S / THREADS)  # one logical request each
TENANTS = ("acme", "globex", "initech")
MODELS = ("gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "claude-opus-4-1")


@tiermix.observe(route="load.answer", provider="openai")
def answer(model: str, input_tokens: int) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ""}}],
        "usage": {"prompt_tokens": input_tokens, "completion_tokens": 7, "total_tokens": input_tokens + 7},
    }


class AppThreads:
    """Threads that each record calls on a fixed schedule and count what they recorded."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()  # tenant -> calls recorded
        self.input_tokens = 0
        self.requests = 0
        self.cascades = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def run(self, index: int, started: float) -> None:
        interval_s = THREADS / RATE_PER_S
        tenant = TENANTS[index % len(TENANTS)]
        calls = tokens = requests = cascades = 0
        try:
            with tiermix.context(tenant=tenant, user=f"user-{index}"):
                for k in range(ITERATIONS_PER_THREAD):
                    delay_s = started + k * interval_s - time.monotonic()
                    if delay_s > 0:
                        time.sleep(delay_s)
                    n_tokens = 100 + (k * 7 + index) % 900
                    if k % 5 == 4:  # a cascade: small model, escalated, then frontier
                        with tiermix.cascade(route="load.cascade") as cascade:
                            answer("gpt-4o-mini", n_tokens)
                            cascade.escalate("verification_failed")
                            answer("claude-opus-4-1", n_tokens)
                        calls, tokens = calls + 2, tokens + 2 * n_tokens
                        cascades += 1
                    else:
                        answer(MODELS[k % len(MODELS)], n_tokens)
                        calls, tokens = calls + 1, tokens + n_tokens
                    requests += 1
        except BaseException as exc:  # the SDK must never raise into the application
            self.errors.append(exc)
        with self._lock:
            self.calls[tenant] += calls
            self.input_tokens += tokens
            self.requests += requests
            self.cascades += cascades


class AckChecker:
    """An OTLP exporter beside the SDK that checks each 200 it gets: acknowledged means stored *now*.

    docs/architecture.md, reliability: the collector answers 200 only once the batch is durable; with
    ClickHouse healthy
    that means inserted, so the spans of every acknowledged batch must be queryable right away.
    """

    TENANT = "raw-exporter"
    BATCH = 20
    INPUT_TOKENS = 120  # what tests.unit.ingest.builders.sdk_attributes puts on a span

    def __init__(self, server: Server) -> None:
        self.server = server
        self.acked = 0
        self.not_stored_when_acked: list[int] = []
        self.statuses: Counter[int] = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        attributes = sdk_attributes(**{"tiermix.tenant": self.TENANT})
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            while not self.stop.wait(0.25):
                ids = [next_span_id() for _ in range(self.BATCH)]
                response = client.post(
                    "/v1/traces", content=body([span(attributes, span_id=i) for i in ids]),
                    headers={"Content-Type": "application/x-protobuf"},
                )  # fmt: skip
                self.statuses[response.status_code] += 1
                if response.status_code != 200:
                    continue
                self.acked += self.BATCH
                found = self.server.scalar(
                    "SELECT count() FROM llm_calls WHERE span_id IN {ids:Array(UInt64)}", ids=ids
                )
                if found != self.BATCH:
                    self.not_stored_when_acked.append(self.BATCH - found)


def test_sustained_load_at_a_fixed_rate_stores_every_call_once_and_rollups_agree_with_raw(
    chdb_dir: Path, tmp_path: Path
) -> None:
    settings = reliability_settings(chdb_dir, tmp_path / "data")
    with serve(settings) as server:
        tiermix.init(
            endpoint=server.url, service="load", environment="reliability",
            export_interval_s=0.2, max_backoff_s=0.5,
        )  # fmt: skip
        try:
            app, checker = AppThreads(), AckChecker(server)
            started = time.monotonic() + 0.1
            threads = [threading.Thread(target=app.run, args=(i, started)) for i in range(THREADS)]
            exporter = threading.Thread(target=checker.run)
            for thread in [*threads, exporter]:
                thread.start()
            for thread in threads:
                thread.join(timeout=DURATION_S + 60)
            elapsed_s = time.monotonic() - started
            checker.stop.set()
            exporter.join(timeout=60)
            assert tiermix.flush(timeout_s=60), "the SDK could not deliver its queue within 60 s"
            rt = _runtime.RT
            assert rt is not None
            drops = dict(rt.drops.total)
        finally:
            tiermix.shutdown(timeout_s=10)

        sent = sum(app.calls.values())
        assert app.errors == []
        # every thread ran its whole schedule, and on time: the rate really held (a stalled load, or an
        # SDK that blocked the application, would prove nothing about sustained ingest)
        assert app.requests == THREADS * ITERATIONS_PER_THREAD == RATE_PER_S * DURATION_S
        assert elapsed_s < DURATION_S * 1.5, f"the app threads fell behind: {elapsed_s:.1f}s"
        assert drops == {}, f"the SDK dropped calls under sustained load: {drops}"
        assert checker.acked > 0 and set(checker.statuses) == {200}, checker.statuses
        assert checker.not_stored_when_acked == [], "200 was answered before the spans were stored"
        expected = {**app.calls, AckChecker.TENANT: checker.acked}
        total = sent + checker.acked
        tokens = app.input_tokens + checker.acked * AckChecker.INPUT_TOKENS

        wait_until(lambda: server.scalar("SELECT count() FROM llm_calls") >= total, 30, "all calls stored")
        raw = {
            tenant: n for tenant, n in server.rows("SELECT tenant, count() FROM llm_calls GROUP BY tenant")
        }
        assert raw == expected
        assert server.scalar("SELECT uniqExact(span_id) FROM llm_calls") == total
        assert server.scalar("SELECT sum(input_tokens) FROM llm_calls") == tokens

        by_key = "tenant, route, model, tier"
        raw_rows = server.rows(
            f"SELECT {by_key}, count(), countIf(attempt = 0), countIf(final), countIf(escalated), "
            f"sum(input_tokens), sum(output_tokens), round(sum(cost_usd), 9) "
            f"FROM llm_calls GROUP BY {by_key} ORDER BY {by_key}"
        )
        for rollup in ("llm_calls_1m", "llm_calls_1h", "llm_calls_1d"):
            rolled = server.rows(
                f"SELECT {by_key}, sum(calls), sum(requests), sum(answered), sum(escalations), "
                f"sum(input_tokens), sum(output_tokens), round(sum(cost_usd), 9) "
                f"FROM {rollup} GROUP BY {by_key} ORDER BY {by_key}"
            )
            assert rolled == raw_rows, f"{rollup} disagrees with llm_calls"
        # calls, first attempts and spend (its tokens count priced calls only, so they are not compared)
        banded = server.rows(
            f"SELECT {by_key}, sum(calls), sumIf(calls, first = 1), round(sum(cost_usd), 9) "
            f"FROM llm_calls_by_band_1d GROUP BY {by_key} ORDER BY {by_key}"
        )
        assert banded == [(*row[:6], row[-1]) for row in raw_rows], "llm_calls_by_band_1d disagrees"

        now = datetime.now(timezone.utc)
        window = {
            "start": (now - timedelta(hours=1)).isoformat(),
            "end": (now + timedelta(minutes=5)).isoformat(),
        }
        summary = server.http.get("/api/v1/summary", params=window).json()
        assert summary["calls"] == total
        assert summary["input_tokens"] == tokens
        # a cascade's two attempts are one request; each raw span is a lone call
        assert summary["requests"] == app.requests + checker.acked
        assert summary["escalated_requests"] == app.cascades
        per_tenant = server.http.get("/api/v1/summary", params={**window, "group_by": "tenant"}).json()
        assert {row["tenant"]: row["calls"] for row in per_tenant["rows"]} == expected
        health = server.http.get("/api/v1/health/data", params=window).json()
        assert health["sdk_dropped"] == 0
        assert health["rejected_spans"] == 0
