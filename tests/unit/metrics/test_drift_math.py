"""Properties of the drift arithmetic: JS distance, PSI and the frontier-share decomposition."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiermix_server.metrics.drift_math import decompose, js_distance, psi

MODELS = st.sampled_from(["a", "b", "c", "d", "e"])
MIX = st.dictionaries(MODELS, st.integers(min_value=1, max_value=10_000), min_size=1)
SEGMENTS = st.dictionaries(
    st.tuples(st.sampled_from(["acme", "globex"]), st.sampled_from(["r1", "r2", "r3"])),
    st.integers(min_value=1, max_value=1000).flatmap(
        lambda n: st.tuples(st.just(float(n)), st.integers(0, n).map(float))
    ),
    min_size=1,
)


@given(MIX, MIX)
def test_js_distance_is_symmetric_and_between_0_and_1(p: dict, q: dict) -> None:
    d = js_distance(p, q)
    assert 0.0 <= d <= 1.0
    assert d == pytest.approx(js_distance(q, p), abs=1e-12)


@given(MIX, st.integers(min_value=1, max_value=50))
def test_js_distance_and_psi_are_zero_for_the_same_mix_at_any_volume(p: dict, scale: int) -> None:
    scaled = {k: v * scale for k, v in p.items()}
    assert js_distance(p, scaled) == pytest.approx(0.0, abs=1e-6)
    assert psi(p, scaled) == pytest.approx(0.0, abs=1e-9)


@given(MIX, MIX)
def test_psi_is_never_negative(p: dict, q: dict) -> None:
    assert psi(p, q) >= -1e-12


def test_disjoint_mixes_are_at_distance_one() -> None:
    assert js_distance({"a": 5}, {"b": 7}) == pytest.approx(1.0)
    assert math.isfinite(psi({"a": 5}, {"b": 7}))


def test_known_values_for_a_20_to_45_percent_frontier_move() -> None:
    before, after = {"small": 80, "frontier": 20}, {"small": 55, "frontier": 45}
    # scipy.spatial.distance.jensenshannon([.8, .2], [.55, .45], base=2) = 0.2288773647471082
    assert js_distance(before, after) == pytest.approx(0.2288773647471082, rel=1e-12)
    assert psi(before, after) == pytest.approx(0.25 * math.log(0.45 / 0.2) - 0.25 * math.log(0.55 / 0.8))


@given(SEGMENTS, SEGMENTS)
def test_traffic_plus_routing_shift_is_exactly_the_change(before: dict, after: dict) -> None:
    result = decompose(before, after)
    assert result.change is not None
    assert result.traffic_shift + result.routing_shift == pytest.approx(result.change, abs=1e-9)
    assert sum(s.traffic_shift + s.routing_shift for s in result.segments) == pytest.approx(
        result.change, abs=1e-9
    )


@given(SEGMENTS, st.integers(min_value=2, max_value=9))
def test_same_mixes_with_other_weights_are_pure_traffic_shift(before: dict, factor: int) -> None:
    # scale one segment's volume: its weight moves, no segment's own share does
    first = sorted(before)[0]
    after = dict(before)
    volume, frontier = before[first]
    after[first] = (volume * factor, frontier * factor)
    result = decompose(before, after)
    assert result.routing_shift == pytest.approx(0.0, abs=1e-9)


def test_empty_sides_have_no_share_and_no_shift() -> None:
    result = decompose({}, {("acme", "r1"): (10.0, 5.0)})
    assert result.baseline is None and result.change is None
    assert result.traffic_shift == 0.0 and result.routing_shift == 0.0
