"""The Wilson interval: known values, bounds, and coverage over simulated samples."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiermix_server.metrics.wilson import wilson


def test_known_values() -> None:
    # Reference values (Newcombe 1998, table I, method 3): 81 of 263 → 0.2553 to 0.3662.
    interval = wilson(81, 263)
    assert interval.low == pytest.approx(0.2553, abs=5e-4)
    assert interval.high == pytest.approx(0.3662, abs=5e-4)
    # All accepted of a small sample is not certainty: 20 of 20 → lower bound ≈ 0.839.
    assert wilson(20, 20).low == pytest.approx(0.8389, abs=5e-4) and wilson(20, 20).high == 1.0
    assert wilson(0, 10).low == 0.0 and wilson(0, 10).high == pytest.approx(0.2775, abs=5e-4)


def test_no_trials_means_nothing_is_known() -> None:
    interval = wilson(0, 0)
    assert (interval.low, interval.high, interval.share) == (0.0, 1.0, None)


@pytest.mark.parametrize(("successes", "trials"), [(-1, 3), (4, 3), (1, -1)])
def test_impossible_counts_are_refused(successes: int, trials: int) -> None:
    with pytest.raises(ValueError):
        wilson(successes, trials)


@given(st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_interval_holds_the_observed_share_inside_zero_one(counts: tuple[int, int]) -> None:
    successes, trials = counts
    interval = wilson(successes, trials)
    assert 0.0 <= interval.low <= successes / trials <= interval.high <= 1.0


def test_coverage_is_near_95_percent() -> None:
    rng = random.Random(3)
    covered = total = 0
    for p in (0.05, 0.3, 0.7, 0.95):
        for n in (20, 100, 400):
            for _ in range(300):
                k = sum(rng.random() < p for _ in range(n))
                interval = wilson(k, n)
                covered += interval.low <= p <= interval.high
                total += 1
    assert 0.92 <= covered / total <= 0.98, covered / total
