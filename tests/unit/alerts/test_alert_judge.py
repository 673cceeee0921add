"""From a measured sample to an observation: volume gates, static and baseline-relative conditions."""

from __future__ import annotations

import math

from tiermix_server.alerts.judge import judge
from tiermix_server.alerts.metric_adapter import Sample
from tiermix_server.alerts.rules import parse_rule

BASE = {"name": "r", "metric": "frontier_share", "window": "5m", "min_volume": 50}


def rule(**condition):
    return parse_rule({**BASE, "condition": condition})


def test_static_threshold_breach():
    assert judge(rule(op=">", threshold=0.3), Sample(0.31, 60)).observation.breached
    assert not judge(rule(op=">", threshold=0.3), Sample(0.3, 60)).observation.breached
    assert judge(rule(op="<=", threshold=0.3), Sample(0.3, 60)).observation.breached


def test_under_min_volume_or_undefined_is_no_data():
    assert not judge(rule(op=">", threshold=0.3), Sample(0.9, 49)).observation.has_data
    assert not judge(rule(op=">", threshold=0.3), None).observation.has_data
    assert not judge(rule(op=">", threshold=0.3), Sample(None, 60)).observation.has_data


def test_ratio_to_baseline_mean():
    judgement = judge(rule(op=">", threshold=2, kind="ratio"), Sample(0.5, 60), [0.2, 0.2, 0.2])
    assert judgement.observation.breached and math.isclose(judgement.compared or 0, 2.5)
    assert math.isclose(judgement.baseline or 0, 0.2)


def test_zscore_against_baseline_spread():
    judgement = judge(rule(op=">", threshold=3, kind="zscore"), Sample(0.5, 60), [0.1, 0.2, 0.3])
    assert judgement.observation.breached
    assert not judge(
        rule(op=">", threshold=3, kind="zscore"), Sample(0.3, 60), [0.1, 0.2, 0.3]
    ).observation.breached


def test_missing_baseline_is_no_data_not_a_guess():
    judgement = judge(rule(op=">", threshold=3, kind="zscore"), Sample(0.5, 60), [0.2])
    assert not judgement.observation.has_data and "baseline" in judgement.reason


def test_ratio_to_a_zero_baseline_is_infinite():
    assert judge(rule(op=">", threshold=2, kind="ratio"), Sample(0.1, 60), [0.0]).compared == math.inf
