"""Query-string parsing: the 400s happen here, before any SQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tiermix_server.api import params
from tiermix_server.errors import BadRequest

NOW = datetime(2026, 11, 24, 12, 30, tzinfo=timezone.utc)


def now() -> datetime:
    return NOW


def test_defaults_are_the_last_24_hours_ending_now() -> None:
    f = params.filters({}, now)
    assert f.end == NOW and f.start == NOW - timedelta(hours=24)


def test_the_default_end_is_now_rounded_up_to_the_minute() -> None:
    f = params.filters({}, lambda: NOW + timedelta(seconds=12.5))
    assert f.end == NOW + timedelta(minutes=1) and f.start == f.end - timedelta(hours=24)
    assert f.tenant is None and f.top_tier == "frontier"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=timezone.utc)),
        ("2026-11-24T10:00:00Z", datetime(2026, 11, 24, 10, tzinfo=timezone.utc)),
        ("2026-11-24T10:00:00", datetime(2026, 11, 24, 10, tzinfo=timezone.utc)),
        ("2026-11-24T12:00:00+02:00", datetime(2026, 11, 24, 10, tzinfo=timezone.utc)),
        ("2026-11-24T10:00:00.250000Z", datetime(2026, 11, 24, 10, 0, 0, 250000, tzinfo=timezone.utc)),
    ],
)
def test_times_are_iso_8601_and_end_up_utc(text: str, expected: datetime) -> None:
    assert params.timestamp(text, "start") == expected


@pytest.mark.parametrize(
    "query",
    [
        {"start": "yesterday"},
        {"end": "2026-02-30"},
        {"start": "2026-11-25T00:00:00Z", "end": "2026-11-24T00:00:00Z"},
        {"tenant": "x" * 300},
    ],
)
def test_bad_filters_are_bad_requests(query: dict) -> None:
    with pytest.raises(BadRequest):
        params.filters(query, now)


def test_the_range_is_limited_by_the_interval() -> None:
    two_days = {"start": "2026-11-22T12:30:00Z"}
    params.filters(two_days, now, "1m")
    with pytest.raises(BadRequest, match="at most 2 days"):
        params.filters({"start": "2026-11-22T12:29:59Z"}, now, "1m")
    params.filters({"start": "2026-01-01"}, now, "1d")


def test_group_by_takes_tenant_and_route_in_any_order() -> None:
    assert params.group_by({"group_by": "route,tenant"}).columns == ("tenant", "route")
    assert params.group_by({}).columns == ()
    with pytest.raises(BadRequest):
        params.group_by({"group_by": "tenant,1=1"})


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("6h", 21600), ("1d", 86400), ("2w", 1209600)])
def test_durations(text: str, seconds: int) -> None:
    assert params.duration({"window": text}, "window", timedelta(0)).total_seconds() == seconds


@pytest.mark.parametrize("text", ["0h", "1y", "h", "-1h", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadRequest):
        params.duration({"window": text}, "window", timedelta(0))


def test_hex_ids() -> None:
    assert params.hex_id("00000000000000ff", "request_id") == 255
    with pytest.raises(BadRequest):
        params.hex_id("0x12", "request_id")
    with pytest.raises(BadRequest):
        params.hex_id("1" * 17, "request_id")
