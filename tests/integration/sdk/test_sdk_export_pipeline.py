"""The export worker keeps up: full batches leave at once, two requests overlap, big ones are split."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import tiermix
from tests.fakes.otlp_sink import OtlpSink
from tiermix.export import delivery


def record(count: int, content: str | None = None) -> None:
    for i in range(count):
        with tiermix.call(model="gpt-4o-mini", provider="openai") as c:
            c.set_usage(input_tokens=i, output_tokens=1)
            if content is not None:
                c.set_content(prompt=content)


def test_a_full_batch_is_exported_at_once_not_at_the_next_tick(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    sdk(batch_size=10, export_interval_s=60.0)
    record(1)  # starts the worker; its first timed export is a minute away
    record(9)  # the 10th call fills a batch
    assert sink.wait_for(lambda s: len(s.call_spans()) == 10, timeout_s=5)  # no flush(), no tick
    assert len(sink.requests) == 1


def test_two_requests_are_in_flight_while_the_collector_takes_its_time(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    sink.ack_delay_s = 0.3
    sdk(batch_size=10, max_concurrent_exports=2, export_interval_s=60.0)
    record(80)
    assert tiermix.flush(10)
    assert len(sink.call_spans()) == 80
    assert sink.peak_in_flight == 2  # overlapped, and never more than configured


def test_one_request_in_flight_when_configured(sdk: Callable[..., None], sink: OtlpSink) -> None:
    sink.ack_delay_s = 0.05
    sdk(batch_size=10, max_concurrent_exports=1, export_interval_s=60.0)
    record(40)
    assert tiermix.flush(10)
    assert len(sink.call_spans()) == 40 and sink.peak_in_flight == 1


def test_flush_returns_only_once_every_overlapping_request_was_answered(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    sink.ack_delay_s = 0.2
    sdk(batch_size=5, max_concurrent_exports=2, export_interval_s=60.0)
    record(23)
    started = time.monotonic()
    assert tiermix.flush(10)
    assert len(sink.call_spans()) == 23  # including the last, partial batch
    assert time.monotonic() - started >= 0.2
    assert tiermix.stats().exported_calls == 23


def test_a_request_over_the_size_limit_is_split_and_nothing_is_lost(
    sdk: Callable[..., None], sink: OtlpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "MAX_REQUEST_BYTES", 20_000)
    sdk(batch_size=100, capture_content=True, max_content_chars=4_000)
    record(20, content="x" * 3_000)  # ~3 KB a span: 20 spans are ~60 KB, three times the limit
    assert tiermix.flush(10)
    spans = sink.call_spans()
    assert sorted(s.attributes["gen_ai.usage.input_tokens"] for s in spans) == list(range(20))
    assert len(sink.requests) >= 4
    assert all(r.ByteSize() <= 20_000 for r in sink.requests)
    assert tiermix.stats().dropped == {}


def test_shutdown_exports_what_is_queued_with_several_export_threads(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    sdk(batch_size=7, max_concurrent_exports=3, export_interval_s=60.0)
    record(50)
    assert tiermix.shutdown(5)
    assert len(sink.call_spans()) == 50
