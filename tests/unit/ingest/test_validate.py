"""Validation: bad spans are rejected with a reason, odd values clipped with a reason, nothing raises."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tiermix_server.ingest.decode import Span
from tiermix_server.ingest.mapping import Mapped, map_span
from tiermix_server.ingest.validate import MAX_SHORT_STRING, MAX_TAGS, Limits, validate

NOW_NS = time.time_ns()
LIMITS = Limits(now_ns=NOW_NS, max_age_days=90)


def mapped(attributes: dict[str, Any], **span: Any) -> Mapped:
    values: dict[str, Any] = {
        "resource": {},
        "trace_id": b"\x01" * 16,
        "span_id": b"\x00" * 7 + b"\x05",
        "parent_span_id": b"",
        "name": "chat",
        "kind": 3,
        "start_ns": NOW_NS - 10**9,
        "end_ns": NOW_NS,
        "status_code": 0,
        "status_message": "",
        "attributes": {"gen_ai.request.model": "gpt-4o", **attributes},
    }
    values.update(span)
    result = map_span(Span(**values))
    assert isinstance(result, Mapped)
    return result


def check(attributes: dict[str, Any], **span: Any) -> tuple[str | None, Mapped]:
    result = mapped(attributes, **span)
    return validate(result.fields, result.clipped, LIMITS), result


@pytest.mark.parametrize(
    ("attributes", "span", "reason"),
    [
        ({}, {"span_id": b""}, "invalid_span_id"),
        ({}, {"span_id": b"\x00" * 8}, "invalid_span_id"),
        ({}, {"trace_id": b"\x00" * 16}, "invalid_trace_id"),
        ({}, {"trace_id": b"\x01" * 8}, "invalid_trace_id"),
        ({}, {"start_ns": 0}, "missing_timestamp"),
        ({}, {"start_ns": NOW_NS + 3 * 86_400 * 10**9}, "timestamp_out_of_range"),
        ({}, {"start_ns": NOW_NS - 200 * 86_400 * 10**9}, "timestamp_out_of_range"),
        ({"gen_ai.usage.input_tokens": -1}, {}, "negative_tokens"),
        ({"gen_ai.usage.output_tokens": 10**12}, {}, "absurd_tokens"),
    ],
)
def test_span_is_rejected_with_a_reason(
    attributes: dict[str, Any], span: dict[str, Any], reason: str
) -> None:
    assert check(attributes, **span)[0] == reason


def test_good_span_is_kept_with_defaults_filled() -> None:
    reason, result = check({})
    assert reason is None
    fields = result.fields
    assert fields["ts"] == (NOW_NS - 10**9) // 1000
    assert fields["duration_ms"] == pytest.approx(1000.0)
    assert (fields["input_tokens"], fields["attempt"], fields["tenant"]) == (0, 0, "default")
    assert result.clipped == []


def test_long_strings_are_clipped_not_rejected() -> None:
    reason, result = check({"tiermix.route": "r" * 1000, "tiermix.escalation_detail": "d" * 5000})
    assert reason is None
    assert len(result.fields["route"]) == MAX_SHORT_STRING
    assert len(result.fields["escalation_detail"]) == 1024
    assert result.clipped == ["string_too_long", "string_too_long"]


def test_too_many_tags_are_clipped() -> None:
    tags = {f"tiermix.tag.k{i}": "v" for i in range(MAX_TAGS + 10)}
    reason, result = check(tags)
    assert reason is None
    assert len(result.fields["tags"]) == MAX_TAGS
    assert "too_many_tags" in result.clipped


def test_negative_duration_attempt_overflow_and_nan_score_are_clipped() -> None:
    reason, result = check(
        {"tiermix.attempt": 1000, "tiermix.routing_score": float("nan"), "tiermix.cost_usd": -1.0},
        end_ns=NOW_NS - 2 * 10**9,
    )
    assert reason is None
    fields = result.fields
    assert (fields["duration_ms"], fields["attempt"], fields["routing_score"], fields["sdk_cost_usd"]) == (
        0.0,
        255,
        None,
        None,
    )
    assert sorted(result.clipped) == [
        "attempt_out_of_range",
        "invalid_routing_score",
        "invalid_sdk_cost_usd",
        "negative_duration",
    ]
