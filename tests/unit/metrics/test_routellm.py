"""CPT and APGR as RouteLLM defines them (metrics/routellm.py), on a curve small enough to do by hand,
and against the paper's own numpy formulas (routellm/evals/evaluate.py) on random routers."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tiermix_server.metrics.routellm import (
    average_performance_gap_recovered,
    call_performance_threshold,
    quality_curve,
    routellm_metrics,
)

# scores 0.1 < 0.4 < 0.6 < 0.9; the strong model answers all four, the weak one the two easy ones
BY_HAND = [(0.1, 1.0, 1.0), (0.4, 1.0, 1.0), (0.6, 1.0, 0.0), (0.9, 1.0, 0.0)]


def test_a_curve_worked_by_hand() -> None:
    found = routellm_metrics(BY_HAND, num_results=4)
    # thresholds 0.9, 0.6, 0.4, 0.1 send 25, 50, 75, 100 % to the strong model
    assert found.curve == [(0.0, 0.5), (25.0, 0.75), (50.0, 1.0), (75.0, 1.0), (100.0, 1.0)]
    assert (found.weak_quality, found.strong_quality) == (0.5, 1.0)
    assert found.cpt_50 == pytest.approx(25.0)  # 0.75 is reached at 25 %
    assert found.cpt_80 == pytest.approx(40.0)  # 0.9 lies 60 % of the way from 25 % to 50 %
    # area 0.15625 + 0.21875 + 0.25 + 0.25 = 0.875; (0.875 - 0.5) / (1 - 0.5)
    assert found.apgr == pytest.approx(0.75)


def test_a_router_that_knows_nothing_recovers_nothing_and_an_oracle_everything() -> None:
    rng = random.Random(5)
    weak_ok = [rng.random() < 0.6 for _ in range(2000)]
    oracle = [(0.0 if ok else 1.0, 1.0, float(ok)) for ok in weak_ok]
    blind = [(rng.random(), 1.0, float(ok)) for ok in weak_ok]
    failing = 1 - sum(weak_ok) / len(weak_ok)
    # the oracle sends exactly the weak model's failures up: the gap closes linearly over that share,
    # then stays closed, so APGR = 1 - failing / 2 and CPT(50%) = failing / 2
    best = routellm_metrics(oracle, num_results=20)
    assert best.apgr == pytest.approx(1 - failing / 2)
    assert best.cpt_50 == pytest.approx(100 * failing / 2)
    blind_found = routellm_metrics(blind, num_results=20)
    assert blind_found.apgr == pytest.approx(0.5, abs=0.06)
    # the blind router needs about x % of strong calls for x % of the gap
    assert blind_found.cpt_50 == pytest.approx(50, abs=8)


@pytest.mark.parametrize("seed", range(5))
def test_the_same_figures_as_routellm_numpy_code(seed: int) -> None:
    rng = random.Random(seed)
    verdicts = []
    for _ in range(500):
        hard = rng.random()
        verdicts.append((hard + rng.gauss(0, 0.2), float(rng.random() < 0.95), float(rng.random() > hard)))
    curve = quality_curve(verdicts, num_results=10)
    pct = np.array([p for p, _ in curve])
    quality = np.array([q for _, q in curve])
    weak, strong = quality[0], quality[-1]
    auc = np.trapezoid(quality, pct / 100)
    span = np.trapezoid(np.full(len(pct), strong), pct / 100) - np.trapezoid(
        np.full(len(pct), weak), pct / 100
    )
    weak_auc = np.trapezoid(np.full(len(pct), weak), pct / 100)
    assert average_performance_gap_recovered(curve, weak, strong) == pytest.approx((auc - weak_auc) / span)
    if np.all(np.diff(quality) >= 0):  # np.interp (the paper's CPT) needs a rising curve
        for x in (0.5, 0.8):
            expected = np.interp(weak + x * (strong - weak), quality, pct)
            assert call_performance_threshold(curve, weak, strong, x) == pytest.approx(expected)


def test_no_gap_no_metric() -> None:
    same = [(0.2, 1.0, 1.0), (0.8, 1.0, 1.0)]
    found = routellm_metrics(same)
    assert (found.cpt_50, found.cpt_80, found.apgr) == (None, None, None)
    with pytest.raises(ValueError, match="no verdicts"):
        routellm_metrics([])
