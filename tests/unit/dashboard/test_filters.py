"""Global filters: URL ↔ filter object, ranges, buckets (pure; no Streamlit run)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tiermix_dashboard.filters import (
    CUSTOM,
    Filters,
    custom_range,
    from_query_params,
    preset_range,
    with_choice,
)

NOW = datetime(2026, 11, 24, 10, 17, 42, tzinfo=UTC)


def test_a_preset_ends_at_the_next_whole_minute_so_reruns_share_a_cache_entry() -> None:
    start, end = preset_range("24h", NOW)
    assert end == datetime(2026, 11, 24, 10, 18, tzinfo=UTC)
    assert end - start == timedelta(hours=24)


def test_a_shared_link_restores_range_and_scope() -> None:
    filters = from_query_params(
        {"range": "7d", "tenant": "acme", "route": "support.answer", "env": "prod"}, NOW
    )
    assert (filters.preset, filters.tenant, filters.route, filters.environment) == (
        "7d",
        "acme",
        "support.answer",
        "prod",
    )
    assert filters.duration == timedelta(days=7)
    assert from_query_params(filters.query_params(), NOW) == filters


def test_a_custom_link_keeps_its_exact_times() -> None:
    params = {"range": CUSTOM, "start": "2026-11-01T00:00:00Z", "end": "2026-11-03T00:00:00Z"}
    filters = from_query_params(params, NOW)
    assert filters.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert from_query_params(filters.query_params(), NOW) == filters


def test_a_malformed_link_falls_back_to_the_default_range_instead_of_failing() -> None:
    for params in ({"range": "forever"}, {"range": CUSTOM, "start": "yesterday"},
                   {"range": CUSTOM, "start": "2026-11-03", "end": "2026-11-01"}):  # fmt: skip
        filters = from_query_params(params, NOW)
        assert filters.preset == "24h"
        assert filters.duration == timedelta(hours=24)


def test_custom_days_cover_both_ends_whole_and_in_order() -> None:
    start, end = custom_range(date(2026, 11, 3), date(2026, 11, 1))
    assert (start, end) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC))


def test_the_previous_period_has_the_same_length_and_ends_where_this_one_starts() -> None:
    filters = Filters(start=NOW - timedelta(hours=6), end=NOW, preset="6h", tenant="acme")
    previous = filters.previous()
    assert (previous.end, previous.duration, previous.tenant) == (filters.start, filters.duration, "acme")


def test_buckets_keep_trend_lines_readable() -> None:
    def bucket(hours: float) -> str:
        return Filters(start=NOW - timedelta(hours=hours), end=NOW).interval()

    assert [bucket(1), bucket(24), bucket(24 * 7), bucket(24 * 30)] == ["1m", "1h", "1h", "1d"]


def test_api_parameters_carry_only_the_scope_that_is_set() -> None:
    params = Filters(start=NOW - timedelta(hours=1), end=NOW, route="summarize").api_params()
    assert params == {"start": "2026-11-24T09:17:42Z", "end": "2026-11-24T10:17:42Z", "route": "summarize"}


def test_a_picker_keeps_the_linked_value_even_when_the_api_does_not_list_it() -> None:
    assert with_choice(["b", "a", ""], "zeta") == ["All", "a", "b", "zeta"]
