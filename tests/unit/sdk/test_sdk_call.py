"""tiermix.call(): manual recording with setters."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import tiermix
from tests.fakes import providers
from tests.fakes.otlp_sink import OtlpSink


def test_manual_call_records_every_setter(sdk: Callable[..., None], sink: OtlpSink) -> None:
    with tiermix.call(model="llama-3.1-8b", provider="self_hosted", route="summarize", tier="small") as c:
        c.first_token()
        c.set_usage(
            input_tokens=100,
            output_tokens=20,
            cache_read_tokens=40,
            cache_write_tokens=10,
            reasoning_tokens=5,
        )
        c.set_served_model("llama-3.1-8b-instruct").set_finish_reason("stop").set_cost(0.0004)
        c.set_tags({"batch": "nightly"}, region="eu")
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)
    a = span.attributes
    assert span.name == "chat llama-3.1-8b"
    assert a["gen_ai.provider.name"] == "self_hosted"
    assert a["gen_ai.request.model"] == "llama-3.1-8b"
    assert a["gen_ai.response.model"] == "llama-3.1-8b-instruct"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (100, 20)
    assert a["gen_ai.usage.cache_read.input_tokens"] == 40
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 10
    assert a["gen_ai.usage.reasoning.output_tokens"] == 5
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["tiermix.cost_usd"] == pytest.approx(0.0004)
    assert (a["tiermix.tag.batch"], a["tiermix.tag.region"]) == ("nightly", "eu")
    assert (a["tiermix.route"], a["tiermix.tier"]) == ("summarize", "small")
    assert a["tiermix.ttft_ms"] >= 0


def test_manual_call_can_take_a_whole_response(sdk: Callable[..., None], sink: OtlpSink) -> None:
    with tiermix.call(model="claude-haiku-4-5") as c:
        c.set_response(providers.anthropic_message("claude-haiku-4-5-20251001"))
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)
    assert span.attributes["gen_ai.provider.name"] == "anthropic"
    assert span.attributes["gen_ai.usage.input_tokens"] == 18


async def test_manual_call_works_with_async_with_and_records_errors(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    with pytest.raises(TimeoutError):
        async with tiermix.call(model="m", provider="p"):
            raise TimeoutError
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)
    assert span.attributes["error.type"] == "TimeoutError"


def test_set_times_and_set_error_record_a_past_failed_call_without_raising(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    start_ns = 1_700_000_000_000_000_000
    with tiermix.call(model="gpt-4o-mini", provider="openai") as c:
        c.set_times(start_ns, start_ns + 250_000_000).set_error("openai.RateLimitError")
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)
    assert (span.start_ns, span.end_ns) == (start_ns, start_ns + 250_000_000)
    assert span.attributes["error.type"] == "openai.RateLimitError"
    assert span.status_code == 2  # STATUS_CODE_ERROR


def test_an_exception_in_the_block_wins_over_set_error(sdk: Callable[..., None], sink: OtlpSink) -> None:
    with pytest.raises(KeyError), tiermix.call(model="gpt-4o-mini") as c:
        c.set_error("openai.RateLimitError")
        raise KeyError("boom")
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)
    assert span.attributes["error.type"] == "KeyError"


@pytest.mark.parametrize("times", [(-1, 5), (10, 5), ("soon", 5), (True, 5)])
def test_invalid_times_are_ignored_and_the_wall_clock_is_kept(
    sdk: Callable[..., None], sink: OtlpSink, times: tuple[object, object]
) -> None:
    before = time.time_ns()
    with tiermix.call(model="gpt-4o-mini") as c:
        c.set_times(*times)  # type: ignore[arg-type]
    assert tiermix.flush(5)
    [span] = sink.wait_for_spans(1)
    assert before <= span.start_ns <= span.end_ns <= time.time_ns()
    assert "error.type" not in span.attributes


def test_stats_count_exported_calls(sdk: Callable[..., None], sink: OtlpSink) -> None:
    for _ in range(3):
        with tiermix.call(model="gpt-4o-mini"):
            pass
    assert tiermix.flush(5)
    stats = tiermix.stats()
    assert (stats.queued, stats.exported_calls, stats.dropped) == (0, 3, {})
