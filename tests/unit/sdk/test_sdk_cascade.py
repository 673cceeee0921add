"""Cascades link attempts under one request_id, with escalation reasons and one final attempt."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

import tiermix
from tests.fakes import providers
from tests.fakes.otlp_sink import CapturedSpan, OtlpSink


def attempts(sink: OtlpSink, count: int) -> list[CapturedSpan]:
    assert tiermix.flush(5)
    spans = sink.wait_for_spans(count)
    return sorted(spans, key=lambda s: s.attributes.get("tiermix.attempt", -1))


@tiermix.observe
def ask(model: str) -> dict[str, object]:
    return providers.chat_completion(model)


def test_small_mid_frontier_cascade_exports_three_linked_attempts_and_one_final(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    with tiermix.context(tenant="acme"), tiermix.cascade(route="support.answer") as c:
        ask("gpt-4o-mini")
        c.escalate("verification_failed")
        ask("gpt-4o")
        c.escalate("low_confidence", detail="judge score 0.41")
        ask("o3")
    small, mid, frontier = attempts(sink, 3)
    ids = {s.attributes["tiermix.request_id"] for s in (small, mid, frontier)}
    assert len(ids) == 1 and len(ids.pop()) == 16
    assert len({s.trace_id for s in (small, mid, frontier)}) == 1
    assert [s.attributes["tiermix.attempt"] for s in (small, mid, frontier)] == [0, 1, 2]
    assert [s.attributes["tiermix.final"] for s in (small, mid, frontier)] == [False, False, True]
    assert [s.attributes["tiermix.escalated"] for s in (small, mid, frontier)] == [True, True, False]
    assert small.attributes["tiermix.escalation_reason"] == "verification_failed"
    assert mid.attributes["tiermix.escalation_reason"] == "low_confidence"
    assert mid.attributes["tiermix.escalation_detail"] == "judge score 0.41"
    assert "tiermix.escalation_reason" not in frontier.attributes
    assert {s.attributes["tiermix.route"] for s in (small, mid, frontier)} == {"support.answer"}
    assert {s.attributes["tiermix.tenant"] for s in (small, mid, frontier)} == {"acme"}


def test_failover_is_kept_apart_from_escalation(sdk: Callable[..., None], sink: OtlpSink) -> None:
    with tiermix.cascade(route="r") as c:
        with pytest.raises(ConnectionError), tiermix.call(model="gpt-4o", provider="openai"):
            raise ConnectionError("provider down")
        c.failover("error", detail="openai 503")
        with tiermix.call(model="claude-sonnet-4-5", provider="anthropic"):
            pass
    first, second = attempts(sink, 2)
    assert first.attributes["tiermix.failover"] is True
    assert first.attributes["tiermix.escalated"] is False
    assert first.attributes["tiermix.escalation_reason"] == "error"
    assert first.attributes["error.type"] == "ConnectionError"
    assert second.attributes["tiermix.final"] is True


def test_routing_decisions_are_attached_to_the_next_attempt(sdk: Callable[..., None], sink: OtlpSink) -> None:
    with tiermix.cascade(route="r") as c:
        c.decide("routellm-mf", reason="score<0.3", score=0.12)
        ask("small")
        c.escalate("refusal")
        ask("big")
    first, second = attempts(sink, 2)
    assert first.attributes["tiermix.router"] == "routellm-mf"
    assert first.attributes["tiermix.routing_reason"] == "score<0.3"
    assert first.attributes["tiermix.routing_score"] == pytest.approx(0.12)
    assert "tiermix.router" not in second.attributes


def test_a_cascade_that_raises_has_no_final_attempt(sdk: Callable[..., None], sink: OtlpSink) -> None:
    with pytest.raises(ValueError), tiermix.cascade(route="r"):
        ask("small")
        raise ValueError("gave up")
    [only] = attempts(sink, 1)
    assert only.attributes["tiermix.final"] is False


def test_a_last_attempt_that_ended_in_an_error_is_not_final(sdk: Callable[..., None], sink: OtlpSink) -> None:
    with tiermix.cascade(route="r") as c:
        ask("small")
        c.escalate("verification_failed")
        with tiermix.call(model="big") as call:
            call.set_error("openai.InternalServerError")
    first, second = attempts(sink, 2)
    assert (first.attributes["tiermix.final"], second.attributes["tiermix.final"]) == (False, False)
    assert second.attributes["error.type"] == "openai.InternalServerError"


def test_unknown_escalation_reason_is_recorded_as_manual(
    sdk: Callable[..., None], sink: OtlpSink, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tiermix"), tiermix.cascade() as c:
        ask("small")
        c.escalate("vibes")
        ask("big")
    first, _ = attempts(sink, 2)
    assert first.attributes["tiermix.escalation_reason"] == "manual"
    assert any("vibes" in r.getMessage() for r in caplog.records)


def test_escalating_before_any_attempt_is_ignored_not_raised(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    with tiermix.cascade() as c:
        c.escalate("manual")
        ask("only")
    [only] = attempts(sink, 1)
    assert only.attributes["tiermix.final"] is True
    assert only.attributes["tiermix.escalated"] is False


def test_escalating_inside_a_call_block_marks_that_running_attempt(
    sdk: Callable[..., None], sink: OtlpSink
) -> None:
    with tiermix.cascade(route="r") as c:
        with tiermix.call(model="small", provider="openai"):
            c.escalate("verification_failed", detail="checked before the block ended")
        with tiermix.call(model="big", provider="openai"):
            pass
    first, second = attempts(sink, 2)
    assert first.attributes["tiermix.escalated"] is True
    assert first.attributes["tiermix.escalation_detail"] == "checked before the block ended"
    assert (first.attributes["tiermix.final"], second.attributes["tiermix.final"]) == (False, True)


def test_escalating_after_the_block_ended_is_ignored_with_a_log_line(
    sdk: Callable[..., None], sink: OtlpSink, caplog: pytest.LogCaptureFixture
) -> None:
    with tiermix.cascade() as c:
        ask("only")
    with caplog.at_level(logging.WARNING, logger="tiermix"):
        c.escalate("manual")
    [only] = attempts(sink, 1)
    assert only.attributes["tiermix.final"] is True
    assert any("after the block ended" in r.getMessage() for r in caplog.records)


async def test_async_with_cascade_over_decorated_coroutines(sdk: Callable[..., None], sink: OtlpSink) -> None:
    @tiermix.observe
    async def ask_async(model: str) -> dict[str, object]:
        return providers.chat_completion(model)

    async with tiermix.cascade(route="async") as c:
        await ask_async("small")
        c.failover("timeout")
        await ask_async("big")
    first, second = attempts(sink, 2)
    assert first.attributes["tiermix.failover"] is True
    assert first.attributes["tiermix.escalation_reason"] == "timeout"
    assert second.attributes["tiermix.final"] is True
    assert {s.attributes["tiermix.route"] for s in (first, second)} == {"async"}
