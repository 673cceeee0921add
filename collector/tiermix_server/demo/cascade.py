"""One simulated logical request: the router's choice, then attempts until one answers.

Pure and seeded: given the same ``random.Random`` state it produces the same request. The router scores
a request's difficulty, starts it on the rung its score reaches, and verification rejects an answer
with a probability that grows with difficulty — rejected answers escalate one tier up. Provider errors
fail over to the next model of the same tier (``failover``) or, when the tier has no other model,
escalate with reason ``error``; timeouts escalate with reason ``timeout``.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass

from tiermix_server.demo.catalog import Model, Route, Step
from tiermix_server.demo.scenario import Effects

MAX_ATTEMPTS = 5
ERROR_PROBABILITY = 0.012
TIMEOUT_PROBABILITY = 0.004
TIMEOUT_MS = 30_000.0
EXPLORATION = 0.1  # share of would-be-top requests the router starts one rung lower
_QUALITY_REASONS = (("verification_failed", 0.75), ("low_confidence", 0.15), ("refusal", 0.10))
_DETAILS = {
    "verification_failed": (
        "schema check failed",
        "answer did not cite a source",
        "unit test failed",
        "grader score below 0.7",
    ),
    "low_confidence": ("self-reported confidence 0.41", "logprob margin too small"),
    "refusal": ("model declined to answer",),
}
_ERRORS = {
    "openai": ("openai.RateLimitError", "openai.APIConnectionError"),
    "anthropic": ("anthropic.RateLimitError", "anthropic.InternalServerError"),
    "gcp.gemini": ("google.api_core.exceptions.ResourceExhausted",),
}


class Outcome(enum.Enum):
    ANSWERED = "answered"  # this attempt produced the answer (final)
    ESCALATED = "escalated"  # abandoned for a higher tier
    FAILOVER = "failover"  # provider error, retried on another model of the same tier
    FAILED = "failed"  # error on the last possible attempt: the request failed


@dataclass(frozen=True, slots=True)
class Attempt:
    model: Model
    start_ns: int
    duration_ms: float
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int
    outcome: Outcome
    reason: str | None = None  # escalation / failover reason (docs/architecture.md, cascades)
    detail: str | None = None
    error_type: str | None = None
    finish_reason: str | None = None

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(self.duration_ms * 1e6)


@dataclass(frozen=True, slots=True)
class DemoRequest:
    ts_ns: int
    tenant: str
    route: str
    user: str
    router: str
    routing_reason: str
    routing_score: float
    attempts: tuple[Attempt, ...]

    @property
    def end_ns(self) -> int:
        return self.attempts[-1].end_ns

    @property
    def answered_tier(self) -> str | None:
        last = self.attempts[-1]
        return last.model.tier if last.outcome is Outcome.ANSWERED else None


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(sigma * rng.gauss(0.0, 1.0))


def _weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random() * sum(weight for _, weight in choices)
    for value, weight in choices:
        roll -= weight
        if roll < 0:
            return value
    return choices[-1][0]


def _start_rung(route: Route, score: float, effects: Effects, rng: random.Random) -> tuple[int, str, str]:
    """(rung, router, routing_reason) for a request of difficulty ``score``."""
    top = len(route.ladder) - 1
    if effects.spike and rng.random() < 0.6:
        return top, "router/v1-hotfix", "default tier overridden to frontier"
    cutoffs = route.cutoffs
    router = "router/v1"
    if effects.drift:
        # v2 of the router trusts the small tier less: its first cutoff moves down.
        cutoffs = (cutoffs[0] * 0.6, *cutoffs[1:])
        router = "router/v2"
    rung = sum(1 for cutoff in cutoffs if score >= cutoff)
    if rung == top and rng.random() < EXPLORATION:
        # Routers keep measuring the rung below on a small share of what they send to the top: the
        # evidence the Opportunities page and the routing what-if read above today's cutoff.
        return top - 1, router, f"exploration: difficulty {score:.2f} -> {route.ladder[top - 1].tier}"
    tier = route.ladder[rung].tier
    return rung, router, f"difficulty {score:.2f} -> {tier}"


def _pick_model(step: Step, index: int, rung: int, effects: Effects, rng: random.Random) -> Model:
    model = step.models[index]
    if effects.new_model is not None and rung == 0 and index == 0 and rng.random() < 0.5:
        return effects.new_model
    return model


def simulate(
    rng: random.Random, route: Route, tenant: str, user: str, ts_ns: int, effects: Effects
) -> DemoRequest:
    score = rng.betavariate(*route.difficulty)
    rung, router, routing_reason = _start_rung(route, score, effects, rng)
    input_tokens = max(20, int(lognormal(rng, *route.input_tokens)))
    top = len(route.ladder) - 1
    attempts: list[Attempt] = []
    index = 0  # which model of the rung (failover moves along)
    start_ns = ts_ns
    while len(attempts) < MAX_ATTEMPTS:
        step = route.ladder[rung]
        model = _pick_model(step, index, rung, effects, rng)
        roll = rng.random()
        last_chance = len(attempts) == MAX_ATTEMPTS - 1
        if roll < ERROR_PROBABILITY + TIMEOUT_PROBABILITY:
            timeout = roll >= ERROR_PROBABILITY
            duration_ms = TIMEOUT_MS if timeout else rng.uniform(40, 400)
            error_type = "TimeoutError" if timeout else rng.choice(_ERRORS.get(model.provider, ("Error",)))
            if not timeout and index + 1 < len(step.models) and not last_chance:
                outcome, reason, detail = Outcome.FAILOVER, "error", f"{error_type} on {model.name}"
                index += 1
            elif rung < top and not last_chance:
                outcome, reason = Outcome.ESCALATED, "timeout" if timeout else "error"
                detail = f"{error_type} on {model.name}"
                rung, index = rung + 1, 0
            else:
                outcome, reason, detail = Outcome.FAILED, None, None
            attempts.append(
                Attempt(
                    model,
                    start_ns,
                    duration_ms,
                    input_tokens,
                    0,
                    0,
                    0,
                    outcome,
                    reason,
                    detail,
                    error_type,
                    None,
                )
            )
            if outcome is Outcome.FAILED:
                break
            start_ns += int(duration_ms * 1e6) + int(rng.uniform(5, 50) * 1e6)
            continue
        output_tokens = max(1, int(lognormal(rng, *route.output_tokens) * (1.0 + 0.25 * rung)))
        reasoning_tokens = int(output_tokens * rng.uniform(1.0, 3.0)) if model.reasoning else 0
        output_tokens += reasoning_tokens
        cached = int(input_tokens * route.cached_share * rng.uniform(0.5, 1.0)) if rng.random() < 0.8 else 0
        duration_ms = lognormal(
            rng, model.base_ms, 0.25
        ) + output_tokens * model.ms_per_output_token * rng.uniform(0.8, 1.2)
        step_fails = (
            rung < top and rng.random() < step.fail_base + step.fail_slope * score and not last_chance
        )
        finish = "length" if rng.random() < 0.01 else "stop"
        if step_fails:
            reason = _weighted(rng, _QUALITY_REASONS)
            detail = rng.choice(_DETAILS[reason])
            attempts.append(
                Attempt(
                    model,
                    start_ns,
                    duration_ms,
                    input_tokens,
                    output_tokens,
                    cached,
                    reasoning_tokens,
                    Outcome.ESCALATED,
                    reason,
                    detail,
                    None,
                    finish,
                )
            )
            rung, index = rung + 1, 0
            # The verifier runs between attempts.
            start_ns += int(duration_ms * 1e6) + int(rng.uniform(20, 200) * 1e6)
            continue
        attempts.append(
            Attempt(
                model,
                start_ns,
                duration_ms,
                input_tokens,
                output_tokens,
                cached,
                reasoning_tokens,
                Outcome.ANSWERED,
                None,
                None,
                None,
                finish,
            )
        )
        break
    return DemoRequest(
        ts_ns, tenant, route.name, user, router, routing_reason, round(score, 4), tuple(attempts)
    )
