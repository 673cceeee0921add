"""The demo traffic model: deterministic by seed, diurnal, and with its scripted events where promised."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from tiermix_server.demo.catalog import GPT_5_MINI, ROUTES, TENANTS
from tiermix_server.demo.scenario import (
    DAY_NS,
    DRIFT_ROUTE,
    HOUR_NS,
    MINUTE_NS,
    NEW_MODEL_ROUTE,
    SPIKE_TENANT,
    Scenario,
)
from tiermix_server.demo.traffic import TrafficModel, diurnal

ANCHOR_NS = int(datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc).timestamp()) * 1_000_000_000  # a Wednesday


def model(seed: int = 1, rate: float = 2.0, scenario: Scenario | None = None) -> TrafficModel:
    return TrafficModel(seed, rate, scenario or Scenario.default(ANCHOR_NS))


def frontier_share(requests: list) -> float:
    return sum(r.answered_tier == "frontier" for r in requests) / len(requests)


def test_the_same_seed_gives_the_same_traffic_and_another_seed_does_not() -> None:
    window = (ANCHOR_NS - HOUR_NS, ANCHOR_NS)
    first = list(model(seed=3).between(*window))
    again = list(model(seed=3).between(*window))
    other = list(model(seed=4).between(*window))
    assert first == again
    assert first != other
    assert len(first) > 100


def test_a_minute_is_the_same_alone_as_inside_a_longer_range() -> None:
    minute = ANCHOR_NS // MINUTE_NS - 5
    alone = model().minute(minute)
    in_range = [r for r in model().between(ANCHOR_NS - HOUR_NS, ANCHOR_NS) if r.ts_ns // MINUTE_NS == minute]
    assert alone == in_range


def test_requests_come_in_time_order_within_the_range_asked() -> None:
    start, end = ANCHOR_NS - 90 * MINUTE_NS + 12345, ANCHOR_NS - 30 * MINUTE_NS
    requests = list(model().between(start, end))
    timestamps = [r.ts_ns for r in requests]
    assert timestamps == sorted(timestamps)
    assert start <= timestamps[0] and timestamps[-1] < end


def test_diurnal_curve_peaks_in_the_afternoon_and_averages_one_over_a_week() -> None:
    day = ANCHOR_NS // MINUTE_NS // 1440 * 1440  # midnight UTC of a weekday
    assert diurnal(day + 15 * 60) > 2.5 * diurnal(day + 3 * 60)
    week = [diurnal(day + m) for m in range(7 * 1440)]
    assert sum(week) / len(week) == pytest.approx(1.0)
    saturday = day + 3 * 1440  # 2026-11-21
    assert diurnal(saturday + 15 * 60) < diurnal(day + 15 * 60)


def test_volume_over_a_quiet_day_follows_the_rate_and_the_diurnal_curve() -> None:
    quiet = model(rate=0.5, scenario=Scenario.quiet(ANCHOR_NS))
    start = ANCHOR_NS - DAY_NS
    count = sum(1 for _ in quiet.between(start, ANCHOR_NS))
    expected = sum(0.5 * 60 * diurnal(m) for m in range(start // MINUTE_NS, ANCHOR_NS // MINUTE_NS))
    assert count == pytest.approx(expected, rel=0.03)
    assert quiet.expected_requests(start, ANCHOR_NS) == pytest.approx(expected)


def test_every_tenant_and_route_gets_traffic() -> None:
    requests = list(model().between(ANCHOR_NS - 6 * HOUR_NS, ANCHOR_NS - 5 * HOUR_NS))
    assert {r.tenant for r in requests} == {t.name for t in TENANTS}
    assert {r.route for r in requests} == set(ROUTES)


def test_the_spike_raises_one_tenants_frontier_share_only_during_its_window() -> None:
    traffic = model(rate=3.0)
    during = list(traffic.between(ANCHOR_NS - 10 * MINUTE_NS, ANCHOR_NS + 30 * MINUTE_NS))
    before = list(traffic.between(ANCHOR_NS - 70 * MINUTE_NS, ANCHOR_NS - 30 * MINUTE_NS))
    spiking = [r for r in during if r.tenant == SPIKE_TENANT]
    calm = [r for r in before if r.tenant == SPIKE_TENANT]
    assert frontier_share(spiking) > 0.45
    assert frontier_share(calm) < 0.15
    others = [r for r in during if r.tenant != SPIKE_TENANT]
    assert frontier_share(others) < 0.15
    # The misrouted batch job also sends more.
    assert len(spiking) > 2 * len(calm)


def test_the_historical_spike_is_three_days_back_for_two_hours() -> None:
    traffic = model(rate=1.0)
    start = ANCHOR_NS - 3 * DAY_NS
    inside = [r for r in traffic.between(start, start + 2 * HOUR_NS) if r.tenant == SPIKE_TENANT]
    after = [r for r in traffic.between(start + 2 * HOUR_NS, start + 4 * HOUR_NS) if r.tenant == SPIKE_TENANT]
    assert frontier_share(inside) > 0.45 > 0.15 > frontier_share(after)


def test_routing_drift_moves_one_route_to_mid_from_two_days_back() -> None:
    traffic = model(rate=1.0)
    drift_ns = ANCHOR_NS - 2 * DAY_NS

    def start_tiers(start: int, end: int) -> tuple[Counter[str], set[str]]:
        requests = [
            r for r in traffic.between(start, end) if r.route == DRIFT_ROUTE and r.tenant != SPIKE_TENANT
        ]
        return Counter(r.attempts[0].model.tier for r in requests), {r.router for r in requests}

    before, routers_before = start_tiers(drift_ns - HOUR_NS, drift_ns)
    after, routers_after = start_tiers(drift_ns, drift_ns + HOUR_NS)
    share_before = before["mid"] / sum(before.values())
    share_after = after["mid"] / sum(after.values())
    assert share_after > share_before + 0.15
    assert routers_before == {"router/v1"} and routers_after == {"router/v2"}


def test_a_new_model_appears_on_one_route_one_day_back() -> None:
    traffic = model(rate=1.0)
    appears_ns = ANCHOR_NS - DAY_NS

    def models(start: int, end: int) -> set[str]:
        return {a.model.name for r in traffic.between(start, end) for a in r.attempts}

    assert GPT_5_MINI.name not in models(appears_ns - HOUR_NS, appears_ns)
    after = [r for r in traffic.between(appears_ns, appears_ns + HOUR_NS)]
    assert GPT_5_MINI.name in {a.model.name for r in after if r.route == NEW_MODEL_ROUTE for a in r.attempts}
    assert GPT_5_MINI.name not in {
        a.model.name for r in after if r.route != NEW_MODEL_ROUTE for a in r.attempts
    }


def test_a_nonpositive_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        TrafficModel(1, 0.0, Scenario.quiet(ANCHOR_NS))
