"""Cost against a real API: spend, cost per request by route, savings (an estimate) and chargeback."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tests.integration.dashboard.conftest import SeededApi, requests_of, shown, table_with


def test_cost_page_shows_spend_and_cost_per_request(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    figures = shown(open_page("cost"))
    spend = sum(row.cost_usd for row in seeded_api.current)
    assert figures["Spend"] == f"${spend:,.2f}"
    assert figures["Cost per request"] == f"${spend / requests_of(seeded_api.current):,.4f}"
    assert "Savings (estimate)" in figures


def test_spend_split_by_route_adds_up_to_the_total(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("cost")
    app.button_group(key="cost_split").set_value("route").run()
    assert not app.exception
    by_route = table_with(app, "unpriced_calls").set_index("key")["cost_usd"]
    for route in {row.route for row in seeded_api.current}:
        expected = sum(row.cost_usd for row in seeded_api.current if row.route == route)
        assert by_route[route] == pytest.approx(expected, rel=1e-9)


def test_savings_are_labelled_an_estimate_per_route(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("cost")
    assert any("estimate" in header.value.lower() for header in app.subheader)
    savings = table_with(app, "baseline_cost_usd")
    assert set(savings["route"]) == {row.route for row in seeded_api.current}
    difference = savings["baseline_cost_usd"] - savings["cost_usd"]
    assert (difference - savings["savings_usd"]).abs().max() < 1e-6


def test_chargeback_export_bills_the_whole_month(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    chargeback = table_with(open_page("cost"), "BilledCost")
    month = (seeded_api.day.year, seeded_api.day.month)
    rows = seeded_api.current + seeded_api.previous
    expected = sum(row.cost_usd for row in rows if (row.ts.year, row.ts.month) == month)
    assert chargeback["BilledCost"].sum() == pytest.approx(expected, rel=1e-9)
