"""RouteLLM's router metrics: CPT(x%) and APGR, from requests judged on both tiers.

Definitions (Ong et al., "RouteLLM: Learning to Route LLMs with Preference Data", 2024,
arXiv:2406.18665, section 5.1; evaluation code routellm/evals/evaluate.py):

- a router with score s sends a request to the strong model when s >= threshold; sweeping the
  threshold over the quantiles of the scores gives a curve of quality against the percentage of calls
  to the strong model (0% = all weak, 100% = all strong);
- **quality** at a threshold is the mean over requests of the verdict of the model the request was
  routed to (1 = acceptable, 0 = not; a fraction when a judge gives grades);
- **CPT(x%)**, call-performance threshold: the smallest percentage of strong calls at which quality
  reaches weak + x% x (strong - weak), by linear interpolation along the curve;
- **APGR**, average performance gap recovered: the area under the curve minus the all-weak area, over
  the all-strong area minus the all-weak area (1 = the router recovers the whole gap at every cost).

Pure functions: the caller supplies one (score, strong verdict, weak verdict) per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

NUM_RESULTS = 10  # thresholds in the sweep, as RouteLLM's evaluation default (--num-results)

Verdict = tuple[float, float, float]  # router score, strong model's verdict, weak model's verdict


@dataclass(frozen=True, slots=True)
class RouteLlmMetrics:
    requests: int
    strong_quality: float
    weak_quality: float
    cpt_50: float | None  # percent of calls to the strong model; None when the gap is zero
    cpt_80: float | None
    apgr: float | None
    curve: list[tuple[float, float]]  # (strong calls %, quality), by strong calls


def quality_curve(verdicts: Sequence[Verdict], num_results: int = NUM_RESULTS) -> list[tuple[float, float]]:
    """(strong %, quality) for thresholds at the score quantiles, plus both ends, by strong %."""
    if not verdicts:
        raise ValueError("no verdicts")
    scores = sorted(s for s, _, _ in verdicts)
    n = len(scores)
    thresholds = {scores[min(n - 1, (n * i) // num_results)] for i in range(num_results)}
    points = {(0.0, _mean(w for _, _, w in verdicts)), (100.0, _mean(s for _, s, _ in verdicts))}
    for threshold in thresholds:
        strong = [score >= threshold for score, _, _ in verdicts]
        quality = _mean(sv if up else wv for up, (_, sv, wv) in zip(strong, verdicts, strict=True))
        points.add((100.0 * sum(strong) / n, quality))
    return sorted(points)


def call_performance_threshold(curve: Sequence[tuple[float, float]], weak: float, strong: float,
                               x: float) -> float | None:  # fmt: skip
    """CPT(x): strong-call % where quality first reaches weak + x (strong - weak), interpolated."""
    if strong <= weak:
        return None  # the strong model recovers nothing: no percentage of calls is "needed"
    target = weak + x * (strong - weak)
    previous = None
    for pct, quality in curve:
        if quality >= target:
            if previous is None or quality == previous[1]:
                return pct
            fraction = (target - previous[1]) / (quality - previous[1])
            return previous[0] + fraction * (pct - previous[0])
        previous = (pct, quality)
    return None


def average_performance_gap_recovered(curve: Sequence[tuple[float, float]], weak: float,
                                      strong: float) -> float | None:  # fmt: skip
    if strong <= weak:
        return None
    area = _trapezoid(curve)
    span = (curve[-1][0] - curve[0][0]) / 100
    return (area - weak * span) / ((strong - weak) * span)


def routellm_metrics(verdicts: Sequence[Verdict], num_results: int = NUM_RESULTS) -> RouteLlmMetrics:
    curve = quality_curve(verdicts, num_results)
    weak = _mean(w for _, _, w in verdicts)
    strong = _mean(s for _, s, _ in verdicts)
    return RouteLlmMetrics(
        requests=len(verdicts),
        strong_quality=strong,
        weak_quality=weak,
        cpt_50=call_performance_threshold(curve, weak, strong, 0.5),
        cpt_80=call_performance_threshold(curve, weak, strong, 0.8),
        apgr=average_performance_gap_recovered(curve, weak, strong),
        curve=curve,
    )


def _trapezoid(curve: Sequence[tuple[float, float]]) -> float:
    """Area under quality over strong calls as a fraction (numpy.trapz(quality, pct / 100))."""
    return sum((b[0] - a[0]) / 100 * (a[1] + b[1]) / 2 for a, b in pairwise(curve))


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items)
