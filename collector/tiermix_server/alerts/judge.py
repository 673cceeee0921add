"""Turn a measured sample (and its trailing baseline) into an ``Observation`` for the state machine.

Pure: the evaluator measures, this decides. Under ``min_volume`` requests, or when the metric is
undefined (nothing to divide by), the group has no data. A relative condition compares the value with
the same window on each of the previous ``baseline_days`` days: ``ratio`` divides by their mean,
``zscore`` subtracts the mean and divides by their standard deviation. Without enough baseline (one day
for a ratio, two for a z-score) the group has no data rather than a made-up comparison.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from tiermix_server.alerts.metric_adapter import Sample
from tiermix_server.alerts.rules import RuleSpec
from tiermix_server.alerts.state import Observation


@dataclass(frozen=True, slots=True)
class Judgement:
    observation: Observation
    compared: float | None = None  # what the condition tested: the value, its ratio or its z-score
    baseline: float | None = None  # baseline mean (relative conditions)
    reason: str = ""  # why there is no data


def judge(spec: RuleSpec, sample: Sample | None, baseline: Sequence[float] = ()) -> Judgement:
    volume = sample.volume if sample is not None else 0
    value = sample.value if sample is not None else None
    if sample is None or volume == 0:
        return Judgement(Observation(False, False, value, volume), reason="no traffic")
    if volume < spec.min_volume:
        return Judgement(Observation(False, False, value, volume), reason=f"under {spec.min_volume} requests")
    if value is None:
        return Judgement(Observation(False, False, None, volume), reason="metric undefined")
    condition = spec.condition
    if condition.kind == "static":
        return Judgement(Observation(True, condition.holds(value), value, volume), compared=value)
    needed = 2 if condition.kind == "zscore" else 1
    if len(baseline) < needed:
        reason = f"baseline has {len(baseline)} of the {needed} days it needs"
        return Judgement(Observation(False, False, value, volume), reason=reason)
    mean = statistics.fmean(baseline)
    if condition.kind == "ratio":
        compared = value / mean if mean else (math.inf if value > 0 else 1.0)
    else:
        spread = statistics.pstdev(baseline)
        difference = value - mean
        compared = (
            difference / spread
            if spread
            else (0.0 if difference == 0 else math.copysign(math.inf, difference))
        )
    return Judgement(
        Observation(True, condition.holds(compared), value, volume), compared=compared, baseline=mean
    )
