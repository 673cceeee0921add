"""Tier mix against a real API: tier shares over time, per route, and the models inside a tier."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from tests.integration.dashboard.conftest import SeededApi, chart_series, table_with


def test_models_within_the_top_tier_show_their_call_counts(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("tier_mix")
    assert app.selectbox(key="mix_tier").value == "frontier"
    models = table_with(app, "tokens").set_index("key")["calls"].to_dict()
    expected = Counter(row.model for row in seeded_api.current if row.tier == "frontier")
    assert models == dict(expected)


def test_tier_share_by_route_sums_to_one_per_route_for_every_measure(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("tier_mix")
    for measure, label in (("calls", "calls"), ("tokens", "tokens"), ("cost_usd", "cost")):
        app.button_group(key="mix_measure").set_value(measure).run()
        assert not app.exception
        per_tier = chart_series(app, f"Tier share of {label} by route")
        totals: dict[str, float] = {}
        for series in per_tier.values():
            for share, route in zip(series["x"], series["y"], strict=True):
                totals[route] = totals.get(route, 0.0) + share
        assert set(totals) == {row.route for row in seeded_api.current}
        assert all(abs(total - 1.0) < 1e-9 for total in totals.values())


def test_picking_another_tier_lists_only_that_tiers_models(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("tier_mix")
    app.selectbox(key="mix_tier").set_value("small").run()
    models = set(table_with(app, "tokens")["key"])
    assert models == {row.model for row in seeded_api.current if row.tier == "small"}


def test_segments_from_one_grouped_request_equal_one_request_per_segment(seeded_api: SeededApi) -> None:
    from datetime import timedelta

    import pandas as pd

    from tiermix_dashboard import queries
    from tiermix_dashboard.api_client import ApiClient
    from tiermix_dashboard.filters import Filters

    client = ApiClient(seeded_api.url, None)
    day = Filters(start=seeded_api.day, end=seeded_api.day + timedelta(days=1), preset="custom")
    try:
        for dimension in ("route", "tenant"):
            asked = {**day.api_params(), "group_by": dimension}
            assert client.get("/api/v1/mix", asked)["group_by"] == [dimension]  # the one-request path
            values = sorted({getattr(row, dimension) for row in seeded_api.current})
            assert len(values) > 1
            grouped = queries.mix_by_segment(client, day, dimension, values)
            one_by_one = queries.mix_by_segment_one_by_one(client, day, dimension, values)
            assert set(grouped[dimension]) == set(values)
            pd.testing.assert_frame_equal(grouped, one_by_one[grouped.columns], check_dtype=False)
    finally:
        client.close()
