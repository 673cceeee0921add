"""Right-sizing scenarios whose truth is known: a router, a cheaper tier and a known acceptance function.

Each route has a router that scores requests (higher = harder) and sends a score at or above its
threshold to the top tier; a share of those (``exploration``) it starts on the candidate tier instead,
the only evidence of how the candidate does on hard requests. The candidate answers a request with
score s in token band b with probability ``acceptance(s, b) = sigmoid(base[b] - slope x s)``; when it
does not, the request escalates to the top tier.

The truth each estimate is checked against:
- ``true_savings``: for a route's top-direct requests, sum of acceptance(s, b) x their top cost minus
  their tokens priced at the candidate model (what moving them would save, in expectation);
- ``true_acceptance``: at a threshold t, the mean acceptance of the scored requests below t.

Used by tests/integration/api/test_rightsizing_scenarios.py and bench/rightsizing.py.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.support.calls import CallRow, cost_of, make_request

TOP = ("frontier", "anthropic", "claude-opus-4-1")
SMALL = ("small", "openai", "gpt-4o-mini")
MID = ("mid", "openai", "gpt-4o")
ROUTER = "router/v1"
SHORT, LONG = 0, 1  # the opportunities' token bands 0-999 and 1000-3999


@dataclass(frozen=True, slots=True)
class RouteModel:
    route: str
    candidate: tuple[str, str, str]
    threshold: float  # score >= threshold goes to the top tier
    exploration: float  # share of would-be-top requests the router starts on the candidate anyway
    base: tuple[float, float]  # acceptance logit at score 0, per band (short, long)
    slope: float  # logit lost per unit of score
    requests: int

    def acceptance(self, score: float, band: int) -> float:
        return 1 / (1 + math.exp(-(self.base[band] - self.slope * score)))


# faq: easy traffic sent to the frontier (the big opportunity); support: a real but smaller one;
# legal: the candidate fails the hard requests, so moving them costs more than it saves.
ROUTES = (
    RouteModel("faq", SMALL, 0.25, 0.15, (5.0, 3.0), 3.0, 900),
    RouteModel("support", MID, 0.45, 0.15, (3.0, 1.5), 3.0, 700),
    RouteModel("legal", MID, 0.6, 0.15, (0.0, -1.0), 4.0, 600),
)


@dataclass(frozen=True, slots=True)
class Scored:
    """One generated request as the truth sees it."""

    route: str
    score: float
    band: int
    input_tokens: int
    output_tokens: int
    top_direct: bool


@dataclass(frozen=True, slots=True)
class Scenario:
    tenant: str
    rows: list[CallRow]
    requests: list[Scored]

    def true_savings(self, model: RouteModel, band: int | None = None) -> float:
        """Expected saving of starting the route's top-direct requests (of ``band``) on the candidate."""
        total = 0.0
        for r in self.requests:
            if r.route == model.route and r.top_direct and (band is None or r.band == band):
                top_cost = cost_of(TOP[2], r.input_tokens, r.output_tokens)
                candidate_cost = cost_of(model.candidate[2], r.input_tokens, r.output_tokens)
                total += model.acceptance(r.score, r.band) * top_cost - candidate_cost
        return total

    def true_acceptance(self, model: RouteModel, threshold: float) -> float | None:
        below = [model.acceptance(r.score, r.band) for r in self.requests
                 if r.route == model.route and r.score < threshold]  # fmt: skip
        return sum(below) / len(below) if below else None


def _tokens(rng: random.Random, band: int) -> tuple[int, int]:
    low, high = (50, 999) if band == SHORT else (1000, 3999)
    middle = 400 if band == SHORT else 2000
    input_tokens = min(high, max(low, int(rng.lognormvariate(math.log(middle), 0.5))))
    return input_tokens, max(10, int(rng.lognormvariate(math.log(200), 0.6)))


def scenario(seed: int, start: datetime, span: timedelta, routes: Iterable[RouteModel] = ROUTES) -> Scenario:
    """One tenant (``seed-N``) sending every route's requests over ``[start, start + span)``."""
    rng = random.Random(seed)
    tenant = f"seed-{seed}"
    rows: list[CallRow] = []
    truth: list[Scored] = []
    for model in routes:
        for _ in range(model.requests):
            score = rng.betavariate(2, 2)
            band = LONG if rng.random() < 0.3 else SHORT
            input_tokens, output_tokens = _tokens(rng, band)
            to_top = score >= model.threshold and rng.random() >= model.exploration
            if to_top:
                attempts = [TOP]
            elif rng.random() < model.acceptance(score, band):
                attempts = [model.candidate]
            else:
                attempts = [model.candidate, TOP]
            at = start + span * rng.random() * 0.999
            request = make_request(rng, at, attempts, tenant=tenant, route=model.route)
            rows.extend(_shaped(request, input_tokens, output_tokens, score))
            truth.append(Scored(model.route, score, band, input_tokens, output_tokens, to_top))
    return Scenario(tenant, rows, truth)


def _shaped(request: list[CallRow], input_tokens: int, output_tokens: int, score: float) -> list[CallRow]:
    """The request's own tokens on every attempt, and the router's decision on the first."""
    shaped = []
    for row in request:
        first = row.attempt == 0
        shaped.append(dataclasses.replace(
            row, input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=0,
            cost_usd=cost_of(row.model, input_tokens, output_tokens), status="ok", error_type="",
            router=ROUTER if first else "", routing_score=score if first else None,
        ))  # fmt: skip
    return shaped
