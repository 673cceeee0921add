"""Prices & tiers against a real API: models per tier, their blended price, and unpriced calls."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from tests.integration.dashboard.conftest import SeededApi, table_with


def test_every_served_model_is_listed_under_its_tier(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    models = table_with(open_page("prices"), "usd_per_mtok")
    shown = {(row.model, row.tier): row.calls for row in models.itertuples()}
    expected = Counter((row.model, row.tier) for row in seeded_api.current)
    assert shown == dict(expected)


def test_unpriced_models_are_listed_with_their_call_count(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("prices")
    unpriced = table_with(app, "provider").set_index("model")["calls"].to_dict()
    assert unpriced == dict(Counter(row.model for row in seeded_api.current if row.unpriced))
    assert any("no price" in warning.value for warning in app.warning)


def test_explaining_a_model_states_its_tier_and_price_without_an_error(
    open_page: Callable[..., AppTest], seeded_api: SeededApi
) -> None:
    app = open_page("prices")
    app.selectbox(key="explain_model").set_value("claude-opus-4-1").run()
    assert not app.exception
    calls = sum(1 for row in seeded_api.current if row.model == "claude-opus-4-1")
    assert any(f"tier **frontier** for {calls:,} calls" in text.value for text in app.markdown)
    # the admin API's explanation: today's tier map and the rule or band that decided it
    assert any("Today's tier map puts it in **frontier**, decided by" in text.value for text in app.markdown)


def test_the_effective_tier_map_lists_tiers_cheapest_first_and_its_rules(
    open_page: Callable[..., AppTest],
) -> None:
    app = open_page("prices")
    assert table_with(app, "band_max_usd_per_mtok")["name"].tolist()[:3] == ["small", "mid", "frontier"]
    rules = table_with(app, "model_pattern")
    assert not rules.empty
    assert rules["priority"].is_monotonic_decreasing
