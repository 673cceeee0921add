"""Routing drift: a route whose own mix moves drifts; a share moved only by traffic is traffic shift."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration.api.seeded import Api, day_before_yesterday
from tests.support.calls import CallRow, insert_calls, make_request
from tests.support.server import running_server

SMALL = ("small", "openai", "gpt-4o-mini")
FRONTIER = ("frontier", "anthropic", "claude-opus-4-1")


def route_traffic(
    rng: random.Random, start: datetime, span: timedelta, route: str, requests: int, frontier: int
) -> list[CallRow]:
    """``requests`` single-attempt requests on ``route``, exactly ``frontier`` of them on the frontier."""
    rows: list[CallRow] = []
    step = span / requests
    for index in range(requests):
        tier = FRONTIER if index % requests < frontier else SMALL
        rows.extend(make_request(rng, start + step * index, [tier], tenant="acme", route=route))
    return rows


@pytest.fixture
def drift_api(clickhouse: Any, settings: Any) -> Iterator[tuple[Api, datetime]]:
    """Baseline 6 h, window 1 h. support.answer: 20% → 45% frontier (its own mix moved).
    legal.review (80% frontier) and faq.lookup (0%) keep their mixes; traffic moves from faq to legal."""
    rng = random.Random(5)
    end = day_before_yesterday() + timedelta(hours=12)
    window_start, baseline_start = end - timedelta(hours=1), end - timedelta(hours=7)
    baseline_span, window_span = timedelta(hours=6), timedelta(hours=1)
    rows = [
        *route_traffic(rng, baseline_start, baseline_span, "support.answer", 400, 80),
        *route_traffic(rng, baseline_start, baseline_span, "legal.review", 100, 80),
        *route_traffic(rng, baseline_start, baseline_span, "faq.lookup", 500, 0),
        *route_traffic(rng, window_start, window_span, "support.answer", 400, 180),
        *route_traffic(rng, window_start, window_span, "legal.review", 300, 240),
        *route_traffic(rng, window_start, window_span, "faq.lookup", 300, 0),
    ]
    insert_calls(clickhouse, rows)
    with running_server(settings) as url:
        yield Api(url, rows, baseline_start, end, clickhouse), end


def test_a_route_whose_mix_moves_from_20_to_45_percent_frontier_drifts(
    drift_api: tuple[Api, datetime],
) -> None:
    api, end = drift_api
    got = api.get("/api/v1/drift", end=end, window="1h", baseline="6h")
    routes = {row["route"]: row for row in got["rows"]}
    moved = routes["support.answer"]
    assert moved["frontier_share_baseline"] == pytest.approx(0.20)
    assert moved["frontier_share_current"] == pytest.approx(0.45)
    assert moved["js_distance"] >= got["js_threshold"] and moved["psi"] >= got["psi_threshold"]
    assert moved["js_distance"] == pytest.approx(0.2288773647471082, rel=1e-9)
    assert moved["psi"] == pytest.approx(0.25 * 0.37469 + 0.25 * 0.81093, abs=1e-4)
    assert moved["drifted"] is True
    for steady in ("legal.review", "faq.lookup"):
        assert routes[steady]["js_distance"] == pytest.approx(0.0, abs=1e-9)
        assert routes[steady]["drifted"] is False


def test_a_frontier_share_change_splits_into_traffic_and_routing_shift(
    drift_api: tuple[Api, datetime],
) -> None:
    api, end = drift_api
    share = api.get("/api/v1/drift", end=end, window="1h", baseline="6h")["frontier_share"]
    assert share["baseline"] == pytest.approx((80 + 80 + 0) / 1000)
    assert share["current"] == pytest.approx((180 + 240 + 0) / 1000)
    assert share["traffic_shift"] + share["routing_shift"] == pytest.approx(share["change"])
    segments = {s["route"]: s for s in share["by_segment"]}
    # mixes that did not move contribute traffic shift only
    assert segments["legal.review"]["routing_shift"] == pytest.approx(0.0, abs=1e-12)
    assert segments["legal.review"]["traffic_shift"] == pytest.approx((0.3 - 0.1) * 0.8)
    assert segments["faq.lookup"]["routing_shift"] == pytest.approx(0.0, abs=1e-12)
    # support.answer kept its weight (0.4): its whole contribution is routing shift
    assert segments["support.answer"]["traffic_shift"] == pytest.approx(0.0, abs=1e-12)
    assert segments["support.answer"]["routing_shift"] == pytest.approx(0.4 * (0.45 - 0.20))


def test_a_model_the_baseline_never_saw_is_a_new_model_event(clickhouse: Any, settings: Any) -> None:
    rng = random.Random(9)
    end = day_before_yesterday() + timedelta(hours=12)
    rows = [
        *route_traffic(rng, end - timedelta(hours=5), timedelta(hours=4), "support.answer", 200, 0),
        *route_traffic(rng, end - timedelta(hours=1), timedelta(hours=1), "support.answer", 99, 0),
        *make_request(
            rng, end - timedelta(minutes=5), [("frontier", "openai", "gpt-5")], route="support.answer"
        ),
    ]
    insert_calls(clickhouse, rows)
    with running_server(settings) as url:
        api = Api(url, rows, end - timedelta(hours=5), end, clickhouse)
        (row,) = api.get("/api/v1/drift", end=end, window="1h", baseline="4h")["rows"]
    assert row["new_models"] == ["gpt-5"]
    assert row["js_distance"] < 0.1  # 1 call in 100: small distance, still an event
    assert row["drifted"] is True


def test_drift_csv_of_segments(drift_api: tuple[Api, datetime]) -> None:
    api, end = drift_api
    status, body = api.fetch(
        "/api/v1/drift", end=end, window="1h", baseline="6h", view="segments", format="csv"
    )
    assert status == 200
    header, *lines = body.strip().splitlines()
    assert header.startswith("tenant,route,weight_baseline")
    assert len(lines) == 3
