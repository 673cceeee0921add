"""Overview against a real API: the headline figures of the seeded day, their changes, and movers."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from tests.integration.dashboard.conftest import SeededApi, api_json, requests_of, shown, table_with


def test_overview_shows_the_headline_figures_of_the_seeded_day(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    figures = shown(open_page())
    rows = seeded_api.current
    assert figures["Requests"] == f"{requests_of(rows):,}"
    assert figures["Spend"] == f"${sum(row.cost_usd for row in rows):,.2f}"
    assert figures["Cost per request"] == f"${sum(row.cost_usd for row in rows) / requests_of(rows):,.4f}"
    # Request-level rates are the API's definitions (docs/architecture.md, metrics): the page must show
    # exactly its value.
    summary = api_json(seeded_api, "/api/v1/summary")
    assert figures["Frontier share"] == f"{summary['frontier_share']:.1%}"
    assert figures["Escalation rate"] == f"{summary['escalation_rate']:.1%}"
    assert figures["Unpriced calls"] == f"{sum(row.unpriced for row in rows):,}"
    assert figures["Dropped calls"] == "0"


def test_overview_compares_each_figure_with_the_previous_day(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page()
    deltas = {metric.label: metric.delta for metric in app.metric}
    now, before = requests_of(seeded_api.current), requests_of(seeded_api.previous)
    assert deltas["Requests"] == f"{(now - before) / before:+.1%} vs previous"
    assert deltas["Frontier share"].endswith(" pp vs previous")


def test_overview_ranks_tenant_route_segments_by_spend_change(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    movers = table_with(open_page(), "spend_change_usd")
    assert 0 < len(movers) <= 10
    changes = movers["spend_change_usd"].abs().tolist()
    assert changes == sorted(changes, reverse=True)
    top = movers.iloc[0]
    spend = sum(
        r.cost_usd for r in seeded_api.current if (r.tenant, r.route) == (top["tenant"], top["route"])
    )
    assert abs(top["cost_usd"] - spend) < 1e-9


def test_every_overview_chart_and_table_offers_its_csv(open_page: Callable[..., AppTest]) -> None:
    app = open_page()
    charts = len(app.get("plotly_chart"))
    assert charts >= 3
    assert len(app.get("download_button")) == charts + len(app.dataframe)
