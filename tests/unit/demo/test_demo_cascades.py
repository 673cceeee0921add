"""Cascade shapes of simulated requests (their recording through the SDK: tests/integration/demo)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from tiermix_server.demo.cascade import MAX_ATTEMPTS, DemoRequest, Outcome
from tiermix_server.demo.catalog import ROUTES
from tiermix_server.demo.scenario import HOUR_NS, Scenario
from tiermix_server.demo.traffic import TrafficModel

ANCHOR_NS = int(datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc).timestamp()) * 1_000_000_000
TIER_RANK = {"small": 0, "mid": 1, "frontier": 2}


@pytest.fixture(scope="module")
def requests() -> list[DemoRequest]:
    return list(
        TrafficModel(11, 4.0, Scenario.default(ANCHOR_NS)).between(ANCHOR_NS - 2 * HOUR_NS, ANCHOR_NS)
    )


def test_most_requests_are_answered_by_the_small_tier_on_the_first_attempt(
    requests: list[DemoRequest],
) -> None:
    answered = Counter(r.answered_tier for r in requests)
    assert answered["small"] / len(requests) > 0.5
    assert Counter(len(r.attempts) for r in requests)[1] / len(requests) > 0.7


def test_every_request_ends_with_its_only_answer_or_a_failure(requests: list[DemoRequest]) -> None:
    for request in requests:
        outcomes = [a.outcome for a in request.attempts]
        assert 1 <= len(outcomes) <= MAX_ATTEMPTS
        assert outcomes[-1] in (Outcome.ANSWERED, Outcome.FAILED)
        assert all(o in (Outcome.ESCALATED, Outcome.FAILOVER) for o in outcomes[:-1])
    assert any(o is Outcome.FAILED for r in requests for o in [r.attempts[-1].outcome])


def test_escalations_climb_a_tier_and_failovers_stay_on_it_with_another_model(
    requests: list[DemoRequest],
) -> None:
    seen = Counter()
    for request in requests:
        for before, after in zip(request.attempts, request.attempts[1:], strict=False):
            if before.outcome is Outcome.ESCALATED:
                assert TIER_RANK[after.model.tier] == TIER_RANK[before.model.tier] + 1
                assert before.reason in {
                    "verification_failed",
                    "low_confidence",
                    "refusal",
                    "error",
                    "timeout",
                }
            else:
                assert after.model.tier == before.model.tier and after.model != before.model
                assert before.reason == "error" and before.error_type
            seen[before.outcome] += 1
    assert seen[Outcome.ESCALATED] > 100 and seen[Outcome.FAILOVER] > 5


def test_attempts_follow_each_other_in_time_and_errors_carry_no_usage(requests: list[DemoRequest]) -> None:
    for request in requests:
        assert request.attempts[0].start_ns == request.ts_ns
        for before, after in zip(request.attempts, request.attempts[1:], strict=False):
            assert after.start_ns > before.end_ns
        for attempt in request.attempts:
            assert attempt.duration_ms > 0
            if attempt.error_type:
                assert attempt.output_tokens == 0 and attempt.finish_reason is None
            else:
                assert attempt.input_tokens > 0 and attempt.output_tokens > 0
                assert attempt.cache_read_tokens <= attempt.input_tokens
                assert attempt.reasoning_tokens <= attempt.output_tokens
                assert attempt.reasoning_tokens == 0 or attempt.model.reasoning


def test_token_sizes_differ_by_route_as_profiled(requests: list[DemoRequest]) -> None:
    def median_input(route: str) -> float:
        sizes = sorted(r.attempts[0].input_tokens for r in requests if r.route == route)
        return sizes[len(sizes) // 2]

    assert median_input("code.review") > 2 * median_input("support.answer")
    for route in ROUTES.values():
        assert median_input(route.name) == pytest.approx(route.input_tokens[0], rel=0.25)
