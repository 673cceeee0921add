"""Validate mapped call fields: reject the span, or clip a value, always with a reason.

Rejected (the span is not stored, the client hears about it through ``partial_success``): missing or
zero ids, a timestamp outside what the table can keep, negative or absurd token counts. Clipped (the
span is stored, the reason is counted): oversized strings, too many tags, a negative duration, an
out-of-range attempt, a non-finite score. Nothing here raises: a bad span never breaks its batch.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from tiermix_server.ingest.mapping import INT_SOURCES

MAX_TOKENS = 100_000_000  # far above any context window; beyond this a count is a bug, not a call
MAX_FUTURE_S = 86_400  # clock skew we tolerate
MAX_SHORT_STRING = 128  # LowCardinality columns: model, route, tenant, ...
MAX_LONG_STRING = 1024  # free text: escalation_detail
MAX_TAGS = 32
MAX_TAG_KEY = 64
MAX_TAG_VALUE = 256
MAX_DURATION_MS = 86_400_000.0  # a call, or its time to first token, longer than a day is a broken clock
MAX_SCORE = 1e30  # routing_score is Float32: anything near its 3.4e38 limit cannot be a classifier score
MAX_CALL_COST_USD = 100_000.0  # far above any one call; beyond this a cost is a bug and would swamp totals
MAX_TENANT = 200  # what an API key may be bound to (meta/keys.py): a stamped tenant is never cut
DEFAULT_TENANT = "default"

_SHORT_FIELDS = (
    "route",
    "environment",
    "service",
    "provider",
    "operation",
    "request_model",
    "model",
    "explicit_tier",
    "router",
    "routing_reason",
    "escalation_reason",
    "error_type",
    "finish_reason",
    "user_hash",
)
_short_values = operator.itemgetter(*_SHORT_FIELDS)
# Nullable floats: each must fit its column (Float32 for ttft and score) and be a plausible value.
_BOUNDED_FLOATS = (
    ("ttft_ms", MAX_DURATION_MS),
    ("routing_score", MAX_SCORE),
    ("sdk_cost_usd", MAX_CALL_COST_USD),
    ("peer_cost_usd", MAX_CALL_COST_USD),
)
_TOKEN_FIELDS = tuple(field for field in INT_SOURCES if field.endswith("_tokens"))


@dataclass(frozen=True, slots=True)
class Limits:
    """What the table can keep: timestamps older than the TTL would be deleted at the next merge."""

    now_ns: int
    max_age_days: int


def validate(fields: dict[str, Any], clipped: list[str], limits: Limits) -> str | None:
    """Check and clip ``fields`` in place; return a rejection reason, or None when the span is kept."""
    span_id = fields["span_id"]
    if not span_id:
        return "invalid_span_id"
    trace_id = fields["trace_id"]
    if len(trace_id) != 16 or not any(trace_id):
        return "invalid_trace_id"
    start_ns = fields.pop("start_ns")
    end_ns = fields.pop("end_ns")
    if start_ns <= 0:
        return "missing_timestamp"
    if start_ns > limits.now_ns + MAX_FUTURE_S * 1_000_000_000 or start_ns < (
        limits.now_ns - limits.max_age_days * 86_400 * 1_000_000_000
    ):
        return "timestamp_out_of_range"
    for field in _TOKEN_FIELDS:
        value = fields[field]
        if value is None:
            fields[field] = 0
        elif value < 0:
            return "negative_tokens"
        elif value > MAX_TOKENS:
            return "absurd_tokens"
    fields["ts"] = start_ns // 1000
    if end_ns < start_ns:
        clipped.append("negative_duration")
        end_ns = start_ns
    duration_ms = (end_ns - start_ns) / 1e6
    if duration_ms > MAX_DURATION_MS:
        clipped.append("duration_out_of_range")
        duration_ms = MAX_DURATION_MS
    fields["duration_ms"] = duration_ms
    attempt = fields["attempt"]
    if attempt is None:
        fields["attempt"] = 0
    elif not 0 <= attempt <= 255:
        clipped.append("attempt_out_of_range")
        fields["attempt"] = min(max(attempt, 0), 255)
    for field, most in _BOUNDED_FLOATS:
        value = fields[field]
        if value is not None and not 0 <= value <= most:  # NaN fails every comparison
            clipped.append(f"invalid_{field}")
            fields[field] = None
    if max(map(len, _short_values(fields))) > MAX_SHORT_STRING:  # one C-level pass when all fit
        for field in _SHORT_FIELDS:
            value = fields[field]
            if len(value) > MAX_SHORT_STRING:
                clipped.append("string_too_long")
                fields[field] = value[:MAX_SHORT_STRING]
    detail = fields["escalation_detail"]
    if len(detail) > MAX_LONG_STRING:
        clipped.append("string_too_long")
        fields["escalation_detail"] = detail[:MAX_LONG_STRING]
    tenant = fields["tenant"]
    if not tenant:
        fields["tenant"] = DEFAULT_TENANT
    elif len(tenant) > MAX_TENANT:
        clipped.append("string_too_long")
        fields["tenant"] = tenant[:MAX_TENANT]
    _clip_tags(fields, clipped)
    return None


def _clip_tags(fields: dict[str, Any], clipped: list[str]) -> None:
    tags: dict[str, str] = fields["tags"]
    if not tags:
        return
    kept: dict[str, str] = {}
    for key, value in tags.items():
        if len(kept) >= MAX_TAGS:
            clipped.append("too_many_tags")
            break
        if len(key) > MAX_TAG_KEY or len(value) > MAX_TAG_VALUE:
            clipped.append("tag_too_long")
        kept[key[:MAX_TAG_KEY]] = value[:MAX_TAG_VALUE]
    fields["tags"] = kept
