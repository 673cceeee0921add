"""Decode workers (ingest/decode_pool.py): bodies decoded in other processes land exactly as inline ones.

Every collector here forces bodies of any size to the workers (``decode_inline_max_bytes=0``) and waits
for them to be ready, so each request below provably went through a worker (``tiermix_decode_jobs_total``).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.integration.ingest.conftest import Collector
from tests.unit.ingest.builders import body, sdk_attributes, span

ROW_SQL = (
    "SELECT span_id, toUnixTimestamp64Micro(ts), duration_ms, tenant, route, provider, model, tier,"
    " tier_source, input_tokens, output_tokens, cost_usd, price_source, unpriced, status, finish_reason,"
    " tags FROM llm_calls ORDER BY span_id"
)


def with_workers(make_collector: Any, workers: int = 1, **overrides: Any) -> Collector:
    collector: Collector = make_collector(decode_workers=workers, decode_inline_max_bytes=0, **overrides)
    # The first body larger than the inline limit starts the workers (it is itself decoded inline).
    assert collector.post(body([span(sdk_attributes(**{"tiermix.tenant": "warm-up"}))])).status_code == 200
    collector.wait_for(lambda: collector.metric("tiermix_decode_workers_ready") == workers, timeout_s=60)
    return collector


def worker_pids() -> list[int]:
    """This process's spawned multiprocessing children (the collector under test runs in-process)."""
    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"multiprocessing.spawn" in cmdline:
                pids.append(int(child))
    return pids


def mixed_spans() -> list[Any]:
    """Kept, rejected, skipped and clipped spans in one request, as the hostile-input suite sends them."""
    opus = sdk_attributes(**{"gen_ai.response.model": "claude-opus-4-1", "gen_ai.provider.name": "anthropic"})
    return [
        span(sdk_attributes(), span_id=0x101),
        span(opus, span_id=0x102),
        span(sdk_attributes(**{"gen_ai.response.model": "no-such-model-anywhere"}), span_id=0x103),
        span(sdk_attributes(**{"gen_ai.usage.input_tokens": "12x", "tiermix.tag.team": "cx"}), span_id=0x104),
        span(sdk_attributes(**{"gen_ai.usage.output_tokens": -5}), span_id=0x105),
        span(sdk_attributes(), span_id=0),  # no span id: rejected
        span({"http.method": "GET"}, span_id=0x106, name="GET /"),  # not an LLM call: skipped
    ]  # fmt: skip


def test_a_body_decoded_by_a_worker_is_answered_and_stored_as_inline(
    make_collector: Any, tmp_path: Path
) -> None:
    inline = make_collector(decode_workers=0, data_dir=tmp_path / "inline")  # its own spool and metadata DB
    pooled = with_workers(make_collector)
    spans = mixed_spans()
    start_ns = time.time_ns() - 10**9
    for one in spans:
        one.start_time_unix_nano, one.end_time_unix_nano = start_ns, start_ns + 250_000_000
    jobs_before = pooled.metric("tiermix_decode_jobs_total")
    answers = []
    for collector in (inline, pooled):
        for compress in (False, True):
            response = collector.post(
                body(spans[:4] if compress else spans, compress=compress),
                **({"Content-Encoding": "gzip"} if compress else {}),
            )
            assert response.status_code == 200
            answers.append(response.content)
    assert answers[0] == answers[2] and answers[1] == answers[3], "the same partial success, byte for byte"
    assert b"1 span(s) rejected: negative_tokens; 1 span(s) rejected: invalid_span_id" in answers[0]
    assert pooled.metric("tiermix_decode_jobs_total") == jobs_before + 2
    pooled.wait_for(lambda: pooled.scalar("SELECT count() FROM llm_calls WHERE tenant = 'acme'") == 4)
    assert inline.rows(ROW_SQL) == [r for r in pooled.rows(ROW_SQL) if r[3] == "acme"]
    for name in (
        "tiermix_spans_rejected_total",
        "tiermix_spans_skipped_total",
        "tiermix_spans_clipped_total",
    ):
        assert metric_lines(inline, name) == metric_lines(pooled, name), name


def metric_lines(collector: Collector, name: str) -> list[str]:
    return sorted(line for line in collector.http.get("/metrics").text.splitlines() if line.startswith(name))


def test_a_price_change_through_the_api_reaches_the_workers_at_once(make_collector: Any) -> None:
    collector = with_workers(make_collector)
    first = span(sdk_attributes(), span_id=0x201)
    assert collector.post(body([first])).status_code == 200
    override = {"model": "gpt-4o-mini-2024-07-18", "kind": "discount", "discount_pct": 50,
                "effective_from": "2020-01-01T00:00:00Z"}  # fmt: skip
    assert collector.http.post("/api/v1/admin/prices", json=override).status_code == 201
    # No wait: the next request carries the collector's pricing version, and the worker catches up.
    assert collector.post(body([span(sdk_attributes(), span_id=0x202)])).status_code == 200
    collector.wait_for(lambda: collector.scalar("SELECT count() FROM llm_calls WHERE tenant = 'acme'") == 2)
    (before, _), (after, source) = collector.rows(
        "SELECT cost_usd, price_source FROM llm_calls WHERE tenant = 'acme' ORDER BY span_id"
    )
    assert before > 0 and abs(after - before / 2) < 1e-15 and source.startswith("override:")


def test_content_decoded_by_a_worker_is_captured_by_the_collector(make_collector: Any) -> None:
    collector = with_workers(make_collector)
    policy = {"tenant": "acme", "route": "support.answer", "sample_rate": 1.0}
    assert collector.http.put("/api/v1/capture/policies", json=policy).status_code == 200
    attributes = sdk_attributes(
        **{"gen_ai.input.messages": '[{"role": "user", "content": "2+2?"}]', "gen_ai.output.messages": "4"}
    )
    jobs_before = collector.metric("tiermix_decode_jobs_total")
    assert collector.post(body([span(attributes)])).status_code == 200
    assert collector.metric("tiermix_decode_jobs_total") == jobs_before + 1
    collector.wait_for(lambda: collector.scalar("SELECT count() FROM replay_captures") == 1)
    assert collector.rows("SELECT response FROM replay_captures") == [("4",)]
    assert collector.metric("tiermix_captured_calls_total") == 1


def test_a_worker_killed_while_decoding_costs_a_retry_and_loses_nothing(make_collector: Any) -> None:
    collector = with_workers(make_collector)
    big = body([span(sdk_attributes(), span_id=0x10000 + n) for n in range(40_000)], compress=True)
    answers: list[httpx.Response] = []

    def send() -> None:
        answers.append(collector.post(big, **{"Content-Encoding": "gzip"}))

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.5)  # 40,000 spans take a worker well over a second to decode
    for pid in worker_pids():
        os.kill(pid, signal.SIGKILL)
    sender.join(60)
    (answer,) = answers
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1", answer.text
    assert "decode worker" in answer.content.decode(errors="replace")
    assert collector.metric("tiermix_decode_worker_restarts_total") == 1
    # The sender retries, as OTLP exporters do on 503; new workers (or the event loop meanwhile) take it.
    retry = collector.post(big, **{"Content-Encoding": "gzip"})
    assert retry.status_code == 200
    collector.wait_for(lambda: collector.metric("tiermix_decode_workers_ready") == 1, timeout_s=60)
    assert collector.scalar("SELECT count() FROM llm_calls WHERE tenant = 'acme'") == 40_000
    assert collector.scalar("SELECT sum(calls) FROM llm_calls_1m WHERE tenant = 'acme'") == 40_000


def test_workers_found_dead_between_requests_cost_no_request(make_collector: Any) -> None:
    collector = with_workers(make_collector)
    for pid in worker_pids():
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # the pool notices its dead worker on its own
    assert collector.post(body([span(sdk_attributes(), span_id=0x301)])).status_code == 200
    assert collector.scalar("SELECT count() FROM llm_calls WHERE span_id = 0x301") == 1
    assert collector.metric("tiermix_decode_worker_restarts_total") == 1
    collector.wait_for(lambda: collector.metric("tiermix_decode_workers_ready") == 1, timeout_s=60)
    jobs_before = collector.metric("tiermix_decode_jobs_total")
    assert collector.post(body([span(sdk_attributes(), span_id=0x302)])).status_code == 200
    assert collector.metric("tiermix_decode_jobs_total") == jobs_before + 1


def rss_bytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024.0
    raise AssertionError(f"no VmRSS for {pid}")


def test_metrics_report_the_collector_and_its_decode_workers_memory_apart(make_collector: Any) -> None:
    collector = with_workers(make_collector, workers=2)
    pids = worker_pids()
    assert len(pids) == 2
    # Compared with /proc read here a moment later: resident memory moves a little in between.
    own, workers = (
        collector.metric("process_resident_memory_bytes"),
        collector.metric("tiermix_decode_workers_resident_memory_bytes"),
    )
    assert abs(own - rss_bytes(os.getpid())) < 0.1 * own  # the test runs the collector in its process
    assert abs(workers - sum(map(rss_bytes, pids))) < 0.1 * workers
    assert workers > 2 * 20 * 2**20  # two Python processes with protobuf and the price book loaded
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    # Workers that exited count 0 until they are replaced, never NaN.
    assert not math.isnan(collector.metric("tiermix_decode_workers_resident_memory_bytes"))
    assert collector.post(body([span(sdk_attributes(), span_id=0x401)])).status_code == 200
    collector.wait_for(lambda: collector.metric("tiermix_decode_workers_ready") == 2, timeout_s=60)
    replaced = collector.metric("tiermix_decode_workers_resident_memory_bytes")
    assert abs(replaced - sum(map(rss_bytes, worker_pids()))) < 0.1 * replaced
