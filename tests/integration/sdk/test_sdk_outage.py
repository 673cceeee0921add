"""A dead, failing or slow collector never hurts the app; losses are counted, reported, or spooled."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from openai.types.chat import ChatCompletion

import tiermix
from tests.fakes import providers
from tests.fakes.otlp_sink import OtlpSink
from tiermix import _runtime

ROOT = Path(__file__).resolve().parents[3]
RESPONSE = ChatCompletion.model_validate(providers.chat_completion("gpt-4o-mini"))


@tiermix.observe(route="load")
def call_model() -> ChatCompletion:
    return RESPONSE


def total_reported(sink: OtlpSink) -> int:
    return sum(s.attributes["tiermix.drop.count"] for s in sink.drop_reports())


def test_100k_calls_with_the_collector_down_stay_bounded_and_the_drops_are_reported_later(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    sink.stop()
    cap = 2_000
    sdk(max_queue=cap, retry_window_s=0.1, max_backoff_s=0.05)
    rt = _runtime.RT
    assert rt is not None
    longest = 0
    for i in range(100_000):
        call_model()
        if i % 500 == 0:
            longest = max(longest, len(rt.queue))
    assert longest <= cap
    assert len(rt.queue) <= cap
    assert rt.drops.total.get("queue_full", 0) > 0

    sink.start()  # same port: the collector is back
    assert sink.wait_for(lambda s: total_reported(s) + len(s.call_spans()) == 100_000, timeout_s=20)
    reasons = {s.attributes["tiermix.drop.reason"] for s in sink.drop_reports()}
    assert "queue_full" in reasons
    assert reasons <= {"queue_full", "export_failed"}
    for report in sink.drop_reports():
        assert report.attributes["tiermix.drop.since_unix_nano"] <= report.end_ns


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_answers_are_retried_with_retry_after_until_delivered(
    sdk: Callable[..., None], sink: OtlpSink, status: int
) -> None:
    sink.fail_with(status, retry_after="0", times=2)
    call_model()
    assert tiermix.flush(5)
    assert len(sink.wait_for_spans(1)) == 1
    assert sink.attempts >= 3
    assert sink.drop_reports() == []


def test_a_rejected_batch_is_counted_and_reported_not_retried_forever(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    sink.fail_with(400, times=1)
    call_model()
    assert tiermix.flush(5) is False  # the collector refused it: not delivered
    assert sink.wait_for(lambda s: total_reported(s) == 1, timeout_s=5)
    [report] = sink.drop_reports()
    assert report.attributes["tiermix.drop.reason"] == "rejected"


def test_a_collector_that_never_answers_does_not_block_calls_or_flush(sdk: Callable[..., None]) -> None:
    with socket.socket() as blackhole:  # accepts connections (backlog) and never answers
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)
        sdk(endpoint=f"http://127.0.0.1:{blackhole.getsockname()[1]}", export_timeout_s=30.0)
        for _ in range(2_000):
            call_model()
        assert tiermix.flush(timeout_s=0.2) is False  # bounded by its timeout, not by the collector
        assert tiermix.shutdown(timeout_s=0.2) is False


CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    import tiermix  # configured only by TIERMIX_* variables; no init() call

    @tiermix.observe(route="spooled")
    def call(i):
        return {"object": "chat.completion", "model": "gpt-4o-mini", "choices": [],
                "usage": {"prompt_tokens": i, "completion_tokens": 1}}

    for i in range(int(sys.argv[2])):
        call(i)
    # normal exit: the atexit flush puts whatever is undelivered into the spool
""")


def test_with_a_spool_an_outage_and_an_app_restart_lose_nothing(sink: OtlpSink, tmp_path: Path) -> None:
    sink.stop()
    spool = tmp_path / "spool"
    calls = 5_000
    env = {**os.environ, "TIERMIX_ENDPOINT": sink.endpoint, "TIERMIX_SPOOL_DIR": str(spool)}
    subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "sdk"), str(calls)], env=env, check=True, timeout=60
    )
    assert any(spool.iterdir())

    sink.start()
    try:
        tiermix.init(endpoint=sink.endpoint, spool_dir=str(spool), export_interval_s=0.05)
        assert sink.wait_for(lambda s: len(s.call_spans()) >= calls, timeout_s=20)
        spans = sink.call_spans()
        assert len({s.span_id for s in spans}) == calls == len(spans)
        assert sorted(s.attributes["gen_ai.usage.input_tokens"] for s in spans) == list(range(calls))
        assert sink.drop_reports() == []
        assert tiermix.flush(5)
        assert [p.name for p in spool.iterdir()] == []
    finally:
        tiermix.shutdown(2)


def test_spool_budget_overflow_is_counted_as_spool_full(
    sdk: Callable[..., None], sink: OtlpSink, tmp_path: Path
) -> None:
    sink.stop()
    sdk(spool_dir=str(tmp_path), spool_max_bytes=1, batch_size=10)
    for _ in range(30):
        call_model()
    assert tiermix.flush(5) is False  # finished, and every call was dropped
    rt = _runtime.RT
    assert rt is not None
    assert rt.drops.total == {"spool_full": 30}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("status", [401, 403, 413])
def test_a_collector_that_refuses_makes_flush_report_failure_and_stats_say_why(
    sdk: Callable[..., None], sink: OtlpSink, status: int
) -> None:
    sink.fail_with(status)
    for _ in range(5):
        call_model()
    assert tiermix.flush(5.0) is False  # refused: nothing of it was delivered
    assert tiermix.stats().dropped.get("rejected") == 5
    sink.succeed()
    call_model()
    assert tiermix.flush(5.0) is True  # the next flush covers only what came since, all delivered
    assert tiermix.stats().exported_calls == 1
