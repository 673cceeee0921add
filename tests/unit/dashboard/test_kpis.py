"""Headline figures and their changes (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from tiermix_dashboard.kpis import (
    decomposition_steps,
    format_change,
    format_value,
    headline_kpis,
    mark_complete,
    scored_segments,
    top_movers,
)


def test_values_are_formatted_by_kind_and_missing_values_say_so() -> None:
    assert format_value(1234.5, "money") == "$1,234.50"
    assert format_value(0.01234, "unit_money") == "$0.0123"
    assert format_value(0.2134, "share") == "21.3%"
    assert format_value(12345, "count") == "12,345"
    assert format_value(None, "share") == "n/a"


def test_rates_change_in_points_and_amounts_in_percent() -> None:
    assert format_change(0.25, 0.20, "share") == "+5.0 pp vs previous"
    assert format_change(110, 100, "count") == "+10.0% vs previous"
    assert format_change(5000, 3, "count") == "1,667x previous"
    assert format_change(7, 0, "count") == "new vs previous"
    assert format_change(None, 3, "count") is None


def test_no_change_is_shown_grey_whatever_a_rise_would_mean() -> None:
    spend = {kpi.label: kpi for kpi in headline_kpis({"cost_usd": 10.0}, {"cost_usd": 10.0})}["Spend"]
    assert (spend.delta, spend.delta_colour) == ("±0% vs previous", "off")
    risen = {kpi.label: kpi for kpi in headline_kpis({"cost_usd": 12.0}, {"cost_usd": 10.0})}["Spend"]
    assert risen.delta_colour == "inverse"  # more spend is bad news


def test_savings_are_labelled_an_estimate() -> None:
    savings = {kpi.label: kpi for kpi in headline_kpis({"savings_usd": 3.0}, {})}
    assert "Savings (estimate)" in savings
    assert "Estimate" in savings["Savings (estimate)"].help


def test_top_movers_rank_segments_by_the_size_of_their_spend_change() -> None:
    now = pd.DataFrame({"tenant": ["a", "b", "c"], "route": ["r", "r", "r"], "requests": [1, 1, 1],
                        "cost_usd": [5.0, 1.0, 9.0], "frontier_share": [0.5, 0.1, None]})  # fmt: skip
    before = pd.DataFrame({"tenant": ["a", "b"], "route": ["r", "r"], "requests": [1, 1],
                           "cost_usd": [1.0, 8.0], "frontier_share": [0.25, 0.1]})  # fmt: skip
    movers = top_movers(now, before)
    assert movers["tenant"].tolist() == ["c", "b", "a"]
    assert movers["spend_change_usd"].tolist() == [9.0, -7.0, 4.0]
    assert movers.loc[2, "frontier_share_change_pp"] == 25.0


def test_partly_filled_buckets_are_marked_not_dropped() -> None:
    start = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    buckets = pd.DataFrame({"bucket": [start.replace(minute=0) + timedelta(hours=h) for h in range(3)]})
    marked = mark_complete(buckets, start, start + timedelta(hours=2), timedelta(hours=1))
    assert marked["complete"].tolist() == [False, True, False]


def test_segments_without_a_baseline_get_no_drift_score() -> None:
    daily = pd.DataFrame({"baseline_calls": [0, 3, 500, 20], "js_distance": [1.0, 0.9, 0.2, 0.0]})
    scored, unscored = scored_segments(daily)
    assert (scored["baseline_calls"].tolist(), unscored) == ([500, 20], 2)


def test_the_decomposition_runs_from_baseline_through_both_shifts_to_now() -> None:
    steps = decomposition_steps(
        {"baseline": 0.2, "traffic_shift": 0.02, "routing_shift": 0.08, "current": 0.3}
    )
    assert [measure for _, _, measure in steps] == ["absolute", "relative", "relative", "total"]
    assert sum(value or 0 for _, value, measure in steps if measure != "total") == 0.3


def test_health_warnings_say_what_the_numbers_are_missing() -> None:
    from tiermix_dashboard.kpis import health_warnings

    assert health_warnings({}) == []
    assert health_warnings({"refused_requests": {}, "storage_refused": 0}) == []
    notes = health_warnings({"refused_requests": {"http_401": 3, "http_413": 1}, "spool_corrupt_records": 2})
    assert notes[0].startswith("The collector refused 4 export requests: 3 with HTTP 401, 1 with HTTP 413")
    assert "wrong or revoked API key" in notes[0]
    assert notes[1] == "2 spool records failed their checksum: the calls in them are lost."
