"""Routing what-if: what another threshold on a router's score would do to a route.

Applications record their router's decision with ``cascade.decide(router, score=...)``: the first
attempt of the request carries ``router`` and ``routing_score``. For one route and router, over the
window:

- **direction**: whether a higher score sends a request to the top tier (``higher_to_top``) or a lower
  one does, read from the scores of the requests that did start on the top tier;
- **thresholds**: the score bins' edges (bands.py: a 0.05 grid over [0, 1]); the requests between two
  neighbouring thresholds form a **bin**. Read from the daily rollup by band (sources.py
  ``BY_BAND``), raw rows at the window's partial days;
- per bin, the **acceptance** of the candidate tier (the highest lower tier first attempts ran on): of the
  bin's requests that started on it, how many it answered (final and ok), with a 95% Wilson interval.
  A bin without such trials (typically far above today's threshold, where the router never tries the
  lower tier) gets, under the assumption that acceptance does not rise with difficulty, the interval
  [0, upper bound of the nearest easier bin with trials], and is flagged ``extrapolated``;
- per threshold: the share routed to the top tier, the **estimated cost per request** (a request sent
  to the top tier costs its first attempt there, or its tokens priced at the top model when it ran
  lower; one sent to the candidate costs the candidate (what it cost, or its tokens priced at the
  candidate model) plus, when the candidate is not accepted, the top tier on its tokens), the
  **estimated acceptance** of the requests sent to the candidate, each with its interval; and the share
  of the requests sent to the candidate whose bin has fewer than ``MIN_TRIALS`` trials (``thin_share``;
  ``little_data`` when it is over a tenth).
- the **current operating point**: what the route does today (observed, not estimated: its cost per
  request is every call's cost over every request of the route), marked on the threshold that best
  separates today's top-tier and lower-tier first attempts.

Requests without a recorded score (or with one outside [0, 1]), and those decided by another router (or
none), are counted and shown, never placed on the curve. Requests on unpriced models are counted and
left out of money.

RouteLLM's CPT and APGR (metrics/routellm.py) need both tiers judged on the same requests, which only
shadow replay records (``replay_evidence.routellm_verdicts``: the latest replay of the candidate tier,
its judged top-direct samples of this router); with fewer than ``MIN_ROUTELLM`` of them ``routellm`` is
null and ``routellm_reason`` says why.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments; every value is a server-side parameter.

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from tiermix_server.metrics.bands import OUT_OF_RANGE, SCORE_BINS, higher_goes_up
from tiermix_server.metrics.filters import Filters, Params
from tiermix_server.metrics.opportunities import CELL_COUNTERS, Cell, Quoter, most_used
from tiermix_server.metrics.replay_evidence import routellm_verdicts
from tiermix_server.metrics.routellm import routellm_metrics
from tiermix_server.metrics.sources import BY_BAND, DAY_S, counters_source, summed
from tiermix_server.metrics.wilson import wilson

MIN_TRIALS = 20  # a bin judged by fewer candidate trials than this rests on little data
LITTLE_DATA_SHARE = 0.1
NO_VERDICTS = "needs shadow-replay verdicts of both tiers on the same requests (none recorded for this route)"
MIN_ROUTELLM = 20


@dataclass(frozen=True, slots=True)
class RouterSeen:
    router: str  # "" for requests whose first attempt names no router
    requests: int
    scored_requests: int  # with a score in [0, 1]
    out_of_range_requests: int  # with a score outside [0, 1]


@dataclass(frozen=True, slots=True)
class Bin:
    """The scored requests between two neighbouring thresholds."""

    score_low: float
    score_high: float
    requests: int
    top_first: int
    candidate_trials: int  # first attempts on the candidate tier: the bin's acceptance sample
    candidate_accepted: int
    acceptance: float
    acceptance_low: float
    acceptance_high: float
    extrapolated: bool  # no trials of its own: bounded by the nearest easier bin


@dataclass(frozen=True, slots=True)
class CurvePoint:
    threshold: float | None  # to the top tier: score >= threshold (higher_to_top) or < (lower_to_top)
    top_share: float
    cost_per_request_usd: float | None  # estimate; low/high from the acceptance interval
    cost_per_request_low_usd: float | None
    cost_per_request_high_usd: float | None
    acceptance: float | None  # of the requests sent to the candidate tier; None when none are
    acceptance_low: float | None
    acceptance_high: float | None
    thin_share: float  # of the requests sent to the candidate: share resting on < MIN_TRIALS trials
    little_data: bool
    current: bool  # the threshold closest to what the router does today


@dataclass(frozen=True, slots=True)
class Current:
    """Today's operating point, observed."""

    threshold: float | None
    top_share: float
    cost_per_request_usd: float | None  # every call's cost over every request of the route
    acceptance: float | None  # of the requests that started on the candidate tier
    candidate_trials: int


@dataclass(frozen=True, slots=True)
class WhatIf:
    start: datetime
    end: datetime
    route: str
    router: str | None
    routers: list[RouterSeen]
    direction: str | None  # "higher_to_top" | "lower_to_top"
    top_tier: str
    top_model: str | None
    candidate_tier: str | None
    candidate_model: str | None
    requests: int  # first attempts on the route, any router
    scored_requests: int  # of ``router``, with a score in [0, 1]: the ones on the curve
    unscored_requests: int  # of ``router``, without a score or with one outside [0, 1]
    other_router_requests: int
    unpriced_requests: int  # on the curve but left out of money
    is_estimate: bool
    current: Current | None
    bins: list[Bin] = field(default_factory=list)
    curve: list[CurvePoint] = field(default_factory=list)
    routellm: dict[str, Any] | None = None
    routellm_reason: str | None = NO_VERDICTS
    reason: str | None = None  # why there is no curve, when there is none

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_DIMENSIONS = ("router", "tier", "provider", "model", "score_bin")
GroupKey = tuple[int, str, str, str]  # bin (easy end first), tier, provider, model


def whatif(
    client: Any, filters: Filters, tier_list: tuple[str, ...], quote: Quoter, router: str | None = None
) -> WhatIf:
    """The what-if of ``filters.route`` (required) under ``router`` (default: the most scored one)."""
    if filters.route is None:
        raise ValueError("the what-if is per route")
    top = tier_list[-1]
    rows, route_totals = _first_attempts(client, filters)
    seen = _routers(rows)
    if router is None:
        scored = [r for r in seen if r.router and r.scored_requests]
        router = max(scored, key=lambda r: (r.scored_requests, r.router)).router if scored else None
    total = sum(r.requests for r in seen)
    mine = next((r for r in seen if r.router == router), RouterSeen(router or "", 0, 0, 0))
    found = WhatIf(
        filters.start, filters.end, filters.route, router, seen, None, top, None, None, None, total,
        mine.scored_requests, mine.requests - mine.scored_requests, total - mine.requests, 0, True, None,
    )  # fmt: skip
    if router is None or not mine.scored_requests:
        reason = "no routing scores recorded on this route" if router is None else (
            f"router {router!r} recorded no scores in [0, 1] on this route")  # fmt: skip
        return replace(found, reason=reason)
    by_bin = {
        (tier, provider, model, score_bin): g
        for (r, tier, provider, model, score_bin), g in rows.items()
        if r == router and score_bin >= 0
    }
    sums = [0, 0, 0, 0]  # top: bin x requests, requests; the others: the same
    for (tier, _, _, score_bin), g in by_bin.items():
        side = 0 if tier == top else 2
        sums[side] += score_bin * g.requests
        sums[side + 1] += g.requests
    higher = higher_goes_up(*sums)
    # bins from the easy end: for a router that sends low scores up, high scores are the easy ones
    groups: dict[GroupKey, Cell] = {
        (score_bin if higher else SCORE_BINS - 1 - score_bin, tier, provider, model): g
        for (tier, provider, model, score_bin), g in by_bin.items()
    }
    models = _models(groups)
    candidate = _candidate(models, tier_list)
    top_model = models.get(top)
    found = replace(
        found, direction="higher_to_top" if higher else "lower_to_top",
        unpriced_requests=sum(g.requests - g.priced_requests for g in groups.values()),
        top_model=top_model[1] if top_model else None,
    )  # fmt: skip
    if candidate is None or top_model is None:
        return replace(found, reason="the route needs first attempts on the top tier and on a lower tier")
    cand_tier, cand_provider, cand_model = candidate
    top_price = quote(filters.end, filters.tenant or "", top_model[0], top_model[1])
    cand_price = quote(filters.end, filters.tenant or "", cand_provider, cand_model)
    prices = None if top_price.unpriced or cand_price.unpriced else (top_price, cand_price)
    bins = _judge(groups, higher, top, cand_tier)
    curve = _curve(groups, bins, higher, top, cand_tier, prices)
    routellm, routellm_reason = _routellm(client, filters, top, cand_tier, router, higher)
    return replace(
        found, candidate_tier=cand_tier, candidate_model=cand_model, bins=bins, curve=curve,
        current=_current(route_totals, groups, curve, top, cand_tier), routellm=routellm,
        routellm_reason=routellm_reason,
    )  # fmt: skip


def _routellm(
    client: Any, filters: Filters, top: str, candidate_tier: str, router: str, higher: bool
) -> tuple[dict[str, Any] | None, str | None]:
    verdicts = routellm_verdicts(client, filters, top, candidate_tier, router)
    if len(verdicts) < MIN_ROUTELLM:
        if not verdicts:
            return None, NO_VERDICTS
        return (
            None,
            f"{len(verdicts)} replayed requests of router {router!r} judged; RouteLLM needs {MIN_ROUTELLM}",
        )
    if not higher:  # RouteLLM sends a request up when its score is at least the threshold
        verdicts = [(-score, strong, weak) for score, strong, weak in verdicts]
    metrics = routellm_metrics(verdicts)
    return {
        "requests": metrics.requests,
        "strong_quality": metrics.strong_quality,
        "weak_quality": metrics.weak_quality,
        "cpt_50": metrics.cpt_50,
        "cpt_80": metrics.cpt_80,
        "apgr": metrics.apgr,
        "scope": "replayed requests this router sent to the top tier; strong = the production answer",
    }, None


def _first_attempts(
    client: Any, filters: Filters
) -> tuple[dict[tuple[str, str, str, str, int], Cell], tuple[int, float, int]]:
    """The route's first attempts by router x tier x provider x model x score bin, and what every call
    of the route came to: (requests, spend, unpriced calls), read in the same pass."""
    params = Params()
    source = counters_source(filters, params, CELL_COUNTERS, (*_DIMENSIONS, "first"), max_step_s=DAY_S,
                             family=BY_BAND)  # fmt: skip
    dims = ", ".join(f"s.{d}" for d in (*_DIMENSIONS, "first"))
    sql = f"SELECT {dims}, {summed(CELL_COUNTERS)} FROM {source} GROUP BY {dims}"
    rows: dict[tuple[str, str, str, str, int], Cell] = {}
    requests, spent, unpriced = 0, 0.0, 0
    for router, tier, provider, model, score_bin, first, *values in client.query(
        sql, parameters=params.values
    ).result_rows:
        cell = Cell(*values)
        spent += cell.cost_usd
        unpriced += cell.requests - cell.priced_requests
        if first and cell.requests:
            requests += cell.requests
            rows[(router, tier, provider, model, int(score_bin))] = cell
    return rows, (requests, spent, unpriced)


def _routers(rows: dict[tuple[str, str, str, str, int], Cell]) -> list[RouterSeen]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (router, _, _, _, score_bin), g in rows.items():
        counts[router][0] += g.requests
        counts[router][1] += g.requests if score_bin >= 0 else 0
        counts[router][2] += g.requests if score_bin == OUT_OF_RANGE else 0
    seen = [RouterSeen(router, *c) for router, c in counts.items()]
    return sorted(seen, key=lambda r: (-r.requests, r.router))


def _models(groups: dict[GroupKey, Cell]) -> dict[str, tuple[str, str]]:
    """The (provider, model) that stands for each first tier (opportunities.most_used)."""
    counts: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for (_, tier, provider, model), group in groups.items():
        counts[tier][(provider, model)] += group.requests
    return {tier: most_used(c) for tier, c in counts.items()}


def _candidate(models: dict[str, tuple[str, str]], tier_list: tuple[str, ...]) -> tuple[str, str, str] | None:
    """The highest lower tier that first attempts ran on: the one a threshold trades the top tier for."""
    for tier in reversed(tier_list[:-1]):
        if tier in models:
            provider, model = models[tier]
            return tier, provider, model
    return None


def _score_range(index: int, higher: bool) -> tuple[float, float]:
    score_bin = index if higher else SCORE_BINS - 1 - index
    return score_bin / SCORE_BINS, (score_bin + 1) / SCORE_BINS


def _judge(groups: dict[GroupKey, Cell], higher: bool, top: str, cand: str) -> list[Bin]:
    """Each bin (easy end first) with the candidate's acceptance there, extrapolated where untried."""
    trials: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # requests, top, tried, accepted
    for (index, tier, _, _), group in groups.items():
        counts = trials[index]
        counts[0] += group.requests
        counts[1] += group.requests if tier == top else 0
        if tier == cand:
            counts[2] += group.requests
            counts[3] += group.accepted
    bins = []
    nearest_easier: Bin | None = None
    for index in range(SCORE_BINS):
        requests, top_first, tried, accepted = trials.get(index, [0, 0, 0, 0])
        low_score, high_score = _score_range(index, higher)
        if tried == 0:
            high = nearest_easier.acceptance_high if nearest_easier else 1.0
            point = nearest_easier.acceptance if nearest_easier else 0.5
            bin_ = Bin(low_score, high_score, requests, top_first, 0, 0, min(point, high), 0.0, high, True)
        else:
            interval = wilson(accepted, tried)
            bin_ = Bin(low_score, high_score, requests, top_first, tried, accepted, interval.share or 0.0,
                       interval.low, interval.high, False)  # fmt: skip
            nearest_easier = bin_
        bins.append(bin_)
    return bins


def _curve(
    groups: dict[GroupKey, Cell],
    bins: list[Bin],
    higher: bool,
    top: str,
    cand: str,
    prices: tuple[Any, Any] | None,
) -> list[CurvePoint]:
    """One point per cut: bins at or past it (the hard end) go to the top tier, the rest to the candidate."""
    total = sum(g.requests for g in groups.values())
    priced = sum(g.priced_requests for g in groups.values())
    # per bin: its cost sent to the top tier, and sent to the candidate at acceptance p (fixed + per_p x p)
    at_top = [0.0] * len(bins)
    fixed = [0.0] * len(bins)
    per_p = [0.0] * len(bins)
    for (index, tier, _, _), g in groups.items():
        if prices is None:
            continue
        on_top = g.cost_usd if tier == top else prices[0].cost(*g.tokens())
        at_top[index] += on_top
        if tier == top:  # pays the candidate, and the top tier again unless accepted
            fixed[index] += prices[1].cost(*g.tokens()) + on_top
            per_p[index] -= on_top
        elif tier == cand:
            fixed[index] += g.cost_usd + on_top
            per_p[index] -= on_top
        else:  # another lower tier keeps its own first attempts and its own observed acceptance
            fixed[index] += g.cost_usd + (1 - g.accepted / g.requests) * on_top
    requests = [b.requests for b in bins]
    curve = []
    for cut in range(len(bins) + 1):
        below = range(cut)  # bins sent to the candidate
        sent = sum(requests[i] for i in below)

        def cost(pick: str, below: range = below, cut: int = cut) -> float | None:
            if prices is None or not priced:
                return None
            spent = sum(at_top[cut:]) + sum(fixed[i] + per_p[i] * getattr(bins[i], pick) for i in below)
            return spent / priced

        def accept(pick: str, below: range = below, sent: int = sent) -> float | None:
            return sum(requests[i] * getattr(bins[i], pick) for i in below) / sent if sent else None

        thin = sum(requests[i] for i in below if bins[i].candidate_trials < MIN_TRIALS)
        thin_share = thin / sent if sent else 0.0
        curve.append(CurvePoint(
            threshold=_threshold(cut, higher),
            top_share=(total - sent) / total if total else 0.0,
            cost_per_request_usd=cost("acceptance"),
            cost_per_request_low_usd=cost("acceptance_high"),
            cost_per_request_high_usd=cost("acceptance_low"),
            acceptance=accept("acceptance"),
            acceptance_low=accept("acceptance_low"),
            acceptance_high=accept("acceptance_high"),
            thin_share=thin_share,
            little_data=thin_share > LITTLE_DATA_SHARE,
            current=False,
        ))  # fmt: skip
    marked = _best_separation(groups, len(bins), top)
    return [replace(p, current=i == marked) for i, p in enumerate(curve)]


def _threshold(cut: int, higher: bool) -> float | None:
    """The score of a cut; past the hard end nothing goes to the top tier and there is no threshold."""
    if cut >= SCORE_BINS:
        return None
    return cut / SCORE_BINS if higher else (SCORE_BINS - cut) / SCORE_BINS


def _best_separation(groups: dict[GroupKey, Cell], nbins: int, top: str) -> int:
    """The cut that misplaces the fewest of today's first attempts (top below it, lower at or past it)."""
    top_in = [0] * nbins
    lower_in = [0] * nbins
    for (index, tier, _, _), g in groups.items():
        (top_in if tier == top else lower_in)[index] += g.requests
    best, best_errors = 0, None
    for cut in range(nbins + 1):
        errors = sum(top_in[:cut]) + sum(lower_in[cut:])
        if best_errors is None or errors < best_errors:
            best, best_errors = cut, errors
    return best


def _current(
    route_totals: tuple[int, float, int],
    groups: dict[GroupKey, Cell],
    curve: list[CurvePoint],
    top: str,
    cand: str,
) -> Current:
    total = sum(g.requests for g in groups.values())
    top_first = sum(g.requests for (_, tier, _, _), g in groups.items() if tier == top)
    tried = sum(g.requests for (_, tier, _, _), g in groups.items() if tier == cand)
    accepted = sum(g.accepted for (_, tier, _, _), g in groups.items() if tier == cand)
    requests, spent, unpriced = route_totals
    marked = next((p for p in curve if p.current), None)
    return Current(
        threshold=marked.threshold if marked else None,
        top_share=top_first / total if total else 0.0,
        # with unpriced calls on the route the observed figure would understate: say nothing instead
        cost_per_request_usd=spent / requests if requests and not unpriced else None,
        acceptance=accepted / tried if tried else None,
        candidate_trials=tried,
    )
