"""bench.insert_anatomy's fit: an insert's fixed cost and cost per call, from CPU per call by batch size."""

from __future__ import annotations

import pytest

from bench.insert_anatomy import BATCH_SIZES, _fit


def test_the_fit_recovers_a_fixed_cost_and_a_cost_per_call() -> None:
    fixed_ms, per_call_us = 55.0, 5.4
    points = {rows: fixed_ms * 1000 / rows + per_call_us for rows in BATCH_SIZES}

    assert _fit(points) == (pytest.approx(fixed_ms), pytest.approx(per_call_us))


def test_without_a_fixed_cost_every_batch_size_costs_the_same() -> None:
    assert _fit({rows: 7.0 for rows in BATCH_SIZES}) == (pytest.approx(0.0, abs=1e-9), pytest.approx(7.0))
