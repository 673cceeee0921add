"""Rendering (JSON/CSV) and the calls cursor: pure parts of the query API."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiermix_server.api.render import csv_text, iso, json_response
from tiermix_server.metrics.calls import BadCursor, decode_cursor, encode_cursor
from tiermix_server.metrics.cost import sample_rate


def test_times_render_as_utc_with_z() -> None:
    assert iso(datetime(2026, 11, 24, 10, 0)) == "2026-11-24T10:00:00Z"
    assert iso(datetime(2026, 11, 24, 10, 0, 0, 5, tzinfo=timezone.utc)) == "2026-11-24T10:00:00.000005Z"


def test_json_turns_non_finite_floats_into_null() -> None:
    body = json.loads(json_response({"a": float("nan"), "b": [float("inf"), 1.5]}).body)
    assert body == {"a": None, "b": [None, 1.5]}


def test_csv_has_every_column_and_encodes_lists_and_nulls() -> None:
    text = csv_text([{"a": 1, "b": None}, {"a": 2, "c": ["x", "y"], "d": True}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["a", "b", "c", "d"]
    assert rows[0]["b"] == "" and rows[1]["c"] == '["x","y"]' and rows[1]["d"] == "true"


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
    ),
    st.integers(min_value=0, max_value=2**64 - 1),
)
def test_cursor_round_trips(ts: datetime, span_id: int) -> None:
    assert decode_cursor(encode_cursor(ts, span_id)) == (ts, span_id)


@pytest.mark.parametrize("cursor", ["", "abc", "1.2.3", "zz.1", "1." + "f" * 17])
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor)


def test_percentile_sample_rate_is_a_power_of_two_that_reaches_the_target() -> None:
    assert sample_rate(10, 100) == 1
    assert sample_rate(1_000_000, 1_000_000) == 1
    assert sample_rate(50_000_000, 1_000_000) == 64
    rate = sample_rate(7_300_001, 1_000_000)
    assert rate & (rate - 1) == 0 and 7_300_001 / rate <= 1_000_000 < 7_300_001 / (rate / 2)
