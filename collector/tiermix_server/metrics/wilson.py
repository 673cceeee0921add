"""The Wilson score interval for a binomial proportion (Wilson 1927).

It stays inside [0, 1] and keeps sensible coverage for small samples and proportions near 0 or 1, where
the normal ("Wald") interval collapses to a point: 20 accepted of 20 tried gives [0.84, 1.0], not
[1.0, 1.0]. Opportunities decide on the lower bound, so a small sample can only make an estimate
smaller, never larger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054  # two-sided 95%: the normal quantile at 0.975


@dataclass(frozen=True, slots=True)
class Interval:
    successes: int
    trials: int
    low: float
    high: float

    @property
    def share(self) -> float | None:
        return self.successes / self.trials if self.trials else None


def wilson(successes: int, trials: int, z: float = Z_95) -> Interval:
    """The interval for ``successes`` of ``trials``; (0, 1) when there are no trials (nothing known)."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return Interval(0, 0, 0.0, 1.0)
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    # Exact ends where the data pin them (rounding would otherwise leave 1e-17 off 0 or 1).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(successes, trials, low, high)
