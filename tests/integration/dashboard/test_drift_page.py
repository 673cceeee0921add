"""Drift against a real API: the route x day heatmap, new-model events, and the decomposition."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from streamlit.testing.v1 import AppTest

from tests.integration.dashboard.conftest import NEW_MODEL, SeededApi, table_with


def test_a_model_never_seen_before_is_listed_as_a_new_model_event(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    events = table_with(open_page("drift"), "model")
    mine = events[events["model"] == NEW_MODEL]
    # one day shown: one heatmap cell per hour, and the new model's first call was at 12:00
    hour = seeded_api.day + timedelta(hours=12)
    assert mine[["period", "tenant", "route"]].values.tolist() == [
        [f"{hour:%m-%d %H:00}", "acme", "support.answer"]
    ]


def test_the_drift_table_covers_every_tenant_route_of_the_window(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    segments = table_with(open_page("drift"), "js_distance")
    seen = {(row.tenant, row.route) for row in seeded_api.current}
    assert {tuple(pair) for pair in segments[["tenant", "route"]].values.tolist()} <= seen
    assert segments["js_distance"].between(0, 1).all()


def test_the_frontier_share_change_splits_into_traffic_and_routing_shift(
    open_page: Callable[..., AppTest],
) -> None:
    app = open_page("drift")
    segments = table_with(app, "routing_shift_pp")
    assert not segments.empty
    assert any("traffic shift" in caption.value.lower() for caption in app.caption)
