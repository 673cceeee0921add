"""Escalations against a real API: escalated requests, failovers, reasons and overhead."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tests.integration.dashboard.conftest import SeededApi, api_json, chart_series, dollars, shown, table_with
from tiermix_dashboard.formats import money_text


def test_escalations_page_counts_escalated_requests_and_failovers(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    figures = shown(open_page("escalations"))
    rows = seeded_api.current
    escalated = api_json(seeded_api, "/api/v1/escalations")["rows"][0]["escalated_requests"]
    assert figures["Escalated requests"] == f"{escalated:,}"  # the API's count of requests, shown as is
    assert figures["Failovers"] == f"{sum(row.failover for row in rows):,}"
    overhead = sum(row.cost_usd for row in rows if row.escalated)
    # money is shown to two significant digits below a dollar, cents above (tiermix_dashboard.formats)
    assert figures["Escalation overhead"] == money_text(overhead)
    assert dollars(figures["Escalation overhead"]) == pytest.approx(overhead, rel=0.01)


def test_escalation_reasons_count_the_abandoned_attempts(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    reasons = table_with(open_page("escalations"), "reason")
    shown_escalations = reasons[reasons["kind"] == "escalation"].set_index("reason")["attempts"].to_dict()
    expected = Counter(row.escalation_reason for row in seeded_api.current if row.escalated)
    assert shown_escalations == dict(expected)


def test_first_attempt_and_answering_tiers_are_compared(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    series = chart_series(open_page("escalations"), "Requests started on each tier vs answered on each tier")
    started = dict(zip(series["1. first attempt"]["x"], series["1. first attempt"]["y"], strict=True))
    answered = dict(zip(series["2. answered"]["x"], series["2. answered"]["y"], strict=True))
    first_frontier = sum(1 for r in seeded_api.current if r.attempt == 0 and r.tier == "frontier")
    answered_frontier = sum(1 for r in seeded_api.current if r.final and r.tier == "frontier")
    assert started["frontier"] == first_frontier
    assert answered["frontier"] == answered_frontier
    assert answered_frontier > first_frontier  # escalations land on the top tier


def test_overhead_by_route_matches_the_abandoned_attempts(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    per_route = table_with(open_page("escalations"), "eligible_requests").set_index("route")
    for route in per_route.index:
        expected = sum(r.cost_usd for r in seeded_api.current if r.route == route and r.escalated)
        assert per_route.loc[route, "escalation_overhead_usd"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
