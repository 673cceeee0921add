"""A simulated request recorded through the public SDK API: the spans say what the traffic model did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import pytest

from tests.fakes.otlp_sink import CapturedSpan, OtlpSink
from tests.fakes.sdk_fixtures import sdk, sink
from tiermix_server.demo.bridge import record_request
from tiermix_server.demo.cascade import DemoRequest, Outcome
from tiermix_server.demo.scenario import HOUR_NS, Scenario
from tiermix_server.demo.traffic import TrafficModel

__all__ = ["sdk", "sink"]

ANCHOR_NS = int(datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc).timestamp()) * 1_000_000_000


@pytest.fixture(scope="module")
def requests() -> list[DemoRequest]:
    model = TrafficModel(11, 4.0, Scenario.default(ANCHOR_NS))
    return list(model.between(ANCHOR_NS - 2 * HOUR_NS, ANCHOR_NS))


@pytest.fixture
def recorded(
    sdk: Callable[..., None], sink: OtlpSink
) -> Iterator[Callable[[DemoRequest], list[CapturedSpan]]]:
    import tiermix

    def record(request: DemoRequest) -> list[CapturedSpan]:
        before = len(sink.call_spans())
        assert record_request(request) == len(request.attempts)
        assert tiermix.flush(5)
        spans = sink.wait_for_spans(before + len(request.attempts))[before:]
        return sorted(spans, key=lambda s: s.attributes["tiermix.attempt"])

    yield record


def test_attempts_share_a_request_and_trace_keep_their_times_and_only_the_answer_is_final(
    requests: list[DemoRequest], recorded: Callable[[DemoRequest], list[CapturedSpan]]
) -> None:
    request = next(r for r in requests if len(r.attempts) == 3)
    spans = recorded(request)
    attrs = [s.attributes for s in spans]
    assert [a["tiermix.attempt"] for a in attrs] == [0, 1, 2]
    assert len({a["tiermix.request_id"] for a in attrs}) == 1 and len({s.trace_id for s in spans}) == 1
    answered = request.attempts[-1].outcome is Outcome.ANSWERED
    assert [a["tiermix.final"] for a in attrs] == [False, False, answered]
    assert attrs[0]["tiermix.router"] == request.router
    assert attrs[0]["tiermix.routing_score"] == pytest.approx(request.routing_score)
    assert all("tiermix.router" not in a for a in attrs[1:])
    assert all(a["tiermix.tenant"] == request.tenant and a["tiermix.route"] == request.route for a in attrs)
    assert [(s.start_ns, s.end_ns) for s in spans] == [(a.start_ns, a.end_ns) for a in request.attempts]
    assert [a["gen_ai.request.model"] for a in attrs] == [a.model.name for a in request.attempts]
    for span, attempt in zip(spans, request.attempts, strict=True):
        if attempt.outcome is Outcome.ESCALATED:
            assert span.attributes["tiermix.escalated"] is True
            assert span.attributes["tiermix.escalation_reason"] == attempt.reason
            assert span.attributes["tiermix.escalation_detail"] == attempt.detail
    assert request.user not in repr(attrs)  # only the hash leaves the simulated app
    assert len(attrs[0]["tiermix.user_hash"]) == 16


def test_a_failed_over_attempt_is_recorded_as_failover_with_its_error_and_no_usage(
    requests: list[DemoRequest], recorded: Callable[[DemoRequest], list[CapturedSpan]]
) -> None:
    request = next(r for r in requests if any(a.outcome is Outcome.FAILOVER for a in r.attempts))
    index = next(i for i, a in enumerate(request.attempts) if a.outcome is Outcome.FAILOVER)
    span = recorded(request)[index]
    assert span.attributes["tiermix.failover"] is True and span.attributes["tiermix.escalated"] is False
    assert span.attributes["error.type"] == request.attempts[index].error_type
    assert span.status_code == 2  # STATUS_CODE_ERROR
    assert "gen_ai.usage.output_tokens" not in span.attributes
    assert "gen_ai.response.model" not in span.attributes


def test_a_request_whose_last_attempt_failed_has_no_final_attempt(
    requests: list[DemoRequest], recorded: Callable[[DemoRequest], list[CapturedSpan]]
) -> None:
    request = next(r for r in requests if r.attempts[-1].outcome is Outcome.FAILED)
    spans = recorded(request)
    assert [s.attributes["tiermix.final"] for s in spans] == [False] * len(spans)
    assert spans[-1].attributes["error.type"] == request.attempts[-1].error_type
