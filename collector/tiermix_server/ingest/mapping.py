"""Spans from any GenAI instrumentation → call-record fields (docs/architecture.md, the call record;
docs/wire.md), table-driven.

Each call-record field lists the attributes it may come from, in precedence order: the tiermix SDK and
the current OTel GenAI conventions (v1.41) first, then older OTel names, then OpenLLMetry, OpenLIT,
OpenInference and Logfire spellings. The highest-ranked attribute present (with a usable value) wins;
for attribution (service, environment, tenant, route) the resource is the fallback. So a span carrying
both ``gen_ai.usage.input_tokens`` and ``gen_ai.usage.prompt_tokens`` is read from the current name,
and an instrumentation that only knows the older one still lands. The tables are flattened into one
attribute → (field, rank, converter) map, so each span costs one pass over its own attributes.

A span is a call when it names a model or a GenAI operation/provider (or OpenInference calls it an LLM
or EMBEDDING span); other spans (HTTP, chains, tools, agents) are *skipped* with a reason, never stored.
``tiermix.drop_report`` spans become ``sdk_drops`` rows. Mapping never raises on odd attribute types: a
value of the wrong type is ignored and noted as a clip reason, so validation can count it.

The fields are a plain dict keyed by ``llm_calls`` column name (plus ``explicit_tier`` and
``sdk_cost_usd`` for enrichment): this runs once per span on the hot path, and one dict is the cheapest
shape that validation and enrichment can both fill in.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tiermix_server.ingest.decode import Span, is_capture_key

DROP_REPORT_NAME = "tiermix.drop_report"
# One report covers one SDK's export interval: a count beyond this is a bug, and summed with others it
# would wrap the UInt64 totals.
MAX_DROPPED = 10**12
TAG_PREFIX = "tiermix.tag."

STRING_SOURCES: dict[str, tuple[str, ...]] = {
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "operation": ("gen_ai.operation.name", "llm.request.type"),
    "request_model": ("gen_ai.request.model", "llm.request.model", "llm.request.model_name"),
    "model": (
        "gen_ai.response.model",
        "llm.response.model",
        "llm.response.model_name",
        "llm.model_name",
        "embedding.model_name",
    ),
    # Not a column: the provider's id for the response, which several spans of one call share (dedup.py).
    "response_id": ("gen_ai.response.id",),
    "tenant": ("tiermix.tenant",),
    "route": ("tiermix.route",),
    "user_hash": ("tiermix.user_hash",),
    "escalation_reason": ("tiermix.escalation_reason",),
    "escalation_detail": ("tiermix.escalation_detail",),
    "explicit_tier": ("tiermix.tier",),
    "router": ("tiermix.router",),
    "routing_reason": ("tiermix.routing_reason",),
    "error_type": ("error.type",),
    "service": ("service.name",),
    "environment": ("deployment.environment.name", "deployment.environment"),
}
INT_SOURCES: dict[str, tuple[str, ...]] = {
    "input_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.usage.prompt_tokens",
        "llm.token_count.prompt",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.usage.completion_tokens",
        "llm.token_count.completion",
    ),
    "cache_read_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "cache_write_tokens": (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_write.input_tokens",  # the anthropic SDK's own tracing
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
    "attempt": ("tiermix.attempt",),
}
# (attribute, scale to the column's unit)
FLOAT_SOURCES: dict[str, tuple[tuple[str, float], ...]] = {
    "ttft_ms": (
        ("tiermix.ttft_ms", 1.0),
        ("gen_ai.server.time_to_first_token", 1000.0),
        ("gen_ai.response.time_to_first_chunk", 1000.0),
        ("gen_ai.client.operation.time_to_first_chunk", 1000.0),
    ),
    "routing_score": (("tiermix.routing_score", 1.0),),
    # The application's own figure (tiermix.cost_usd) wins over the price book.
    "sdk_cost_usd": (("tiermix.cost_usd", 1.0),),
    # A peer instrumentation's own figure (OpenLIT) is only a hint: it sends 0 for any model missing from
    # its table, so the price book decides and this is kept for comparison (enrich.py).
    "peer_cost_usd": (
        ("gen_ai.usage.cost", 1.0),  # OpenLIT
        ("gen_ai.cost.total_cost", 1.0),  # LiteLLM
        ("operation.cost", 1.0),  # pydantic-ai
    ),
}
BOOL_SOURCES: dict[str, tuple[str, bool]] = {
    "final": ("tiermix.final", True),
    "escalated": ("tiermix.escalated", False),
    "failover": ("tiermix.failover", False),
}
FINISH_REASON_SOURCES = ("gen_ai.response.finish_reasons", "llm.response.finish_reason", "llm.finish_reason")

# What marks a span as a GenAI span at all (any one is enough).
_GENAI_MARKERS = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "llm.model_name",
    "llm.request.type",
)
_OPENINFERENCE_KIND = "openinference.span.kind"
_OPENINFERENCE_OPERATIONS = {"LLM": "chat", "EMBEDDING": "embeddings"}
# GenAI operations that are not a model call (agents, tools): counted as skipped.
_NOT_CALL_OPERATIONS = frozenset(
    {"execute_tool", "invoke_agent", "create_agent", "invoke_workflow", "workflow", "task", "agent", "tool"}
)
_OPERATION_ALIASES = {
    "completion": "text_completion",
    "embedding": "embeddings",
    "chat.completions": "chat",
    "generate": "text_completion",
}
_STATUS_ERROR = 2
# Instrumentations that report Anthropic's own input_tokens (the uncached part) under the OTel name,
# whose convention is input *including* cache reads and writes (measured: docs/peers.md).
INPUT_EXCLUDES_CACHE_SCOPES = frozenset({"openlit.instrumentation.anthropic"})
_LOGFIRE_SPAN_TYPE = "logfire.span_type"
_LOGFIRE_DURATION = "duration"  # seconds, on Logfire's "streaming response" log span (zero-length)


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: str


@dataclass(frozen=True, slots=True)
class DropReport:
    """One ``tiermix.drop_report`` span: calls an SDK had to drop, by reason (docs/wire.md)."""

    ts_us: int
    span_id: int
    since_us: int
    tenant: str
    service: str
    environment: str
    reason: str
    dropped: int


@dataclass(slots=True)
class Mapped:
    """A call's fields (``llm_calls`` column names) plus reasons for values that were ignored."""

    fields: dict[str, Any]
    clipped: list[str]


def _to_str(value: Any, clipped: list[str]) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    clipped.append("wrong_type")
    return None


# ASCII digits only, at most 19 of them (int64): ``str.isdigit`` also admits "²" (which ``int`` rejects)
# and other scripts' digits, and ``int`` refuses strings of more than 4,300 digits.
_INT_TEXT = re.compile(r"\s*-?[0-9]{1,19}\s*")
_HEX_ID = re.compile(r"[0-9a-fA-F]{1,16}")


def _to_int(value: Any, clipped: list[str]) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value) and abs(value) < 2**63:
        return int(value)
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        return int(value)
    clipped.append("wrong_type")
    return None


def _to_float(scale: float) -> Callable[[Any, list[str]], float | None]:
    def convert(value: Any, clipped: list[str]) -> float | None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) * scale
        if isinstance(value, str):
            try:
                return float(value) * scale
            except ValueError:
                pass
        clipped.append("wrong_type")
        return None

    return convert


def _to_bool(value: Any, clipped: list[str]) -> bool | None:
    if isinstance(value, bool):
        return value
    clipped.append("wrong_type")
    return None


def _to_first_str(value: Any, clipped: list[str]) -> str | None:
    if isinstance(value, str) and value.startswith("["):
        # Some instrumentations send the finish_reasons array as JSON text ('["stop"]').
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, list):
        return value[0] if value and isinstance(value[0], str) else None
    return value if isinstance(value, str) else None


Converter = Callable[[Any, list[str]], Any]


def _build_keymap() -> dict[str, tuple[str, int, Converter, type | None]]:
    """attribute → (field, rank, converter, type needing no conversion): the tables above, flattened
    for one pass per span."""
    keymap: dict[str, tuple[str, int, Converter, type | None]] = {}
    for field, keys in STRING_SOURCES.items():
        keymap.update({key: (field, rank, _to_str, str) for rank, key in enumerate(keys)})
    for field, keys in INT_SOURCES.items():
        keymap.update({key: (field, rank, _to_int, int) for rank, key in enumerate(keys)})
    for field, scaled in FLOAT_SOURCES.items():
        keymap.update(
            {key: (field, rank, _to_float(scale), None) for rank, (key, scale) in enumerate(scaled)}
        )
    for field, (key, _default) in BOOL_SOURCES.items():
        keymap[key] = (field, 0, _to_bool, bool)
    keymap.update(
        {key: ("finish_reason", rank, _to_first_str, None) for rank, key in enumerate(FINISH_REASON_SOURCES)}
    )
    return keymap


_KEYMAP = _build_keymap()
_RESOURCE_FIELDS = ("service", "environment", "tenant", "route")
_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(STRING_SOURCES, ""),
    **dict.fromkeys(INT_SOURCES),
    **dict.fromkeys(FLOAT_SOURCES),
    **{field: default for field, (_key, default) in BOOL_SOURCES.items()},
    "finish_reason": "",
    "content": None,  # content capture only: the span's content attributes, for replay_captures
}
# Every attribute mapping reads: decoding converts only these values (and tags/content by prefix).
_DROP_KEYS = ("tiermix.drop.count", "tiermix.drop.reason", "tiermix.drop.since_unix_nano")
ATTRIBUTE_KEYS = frozenset(
    [
        *_KEYMAP,
        *_GENAI_MARKERS,
        _OPENINFERENCE_KIND,
        "tiermix.request_id",
        *_DROP_KEYS,
        _LOGFIRE_SPAN_TYPE,
        _LOGFIRE_DURATION,
    ]
)
ATTRIBUTE_PREFIXES = (TAG_PREFIX,)
# The AnyValue field each mapped attribute usually holds, so decoding can skip asking (decode.flatten).
_USUAL_KIND: dict[Converter, str] = {_to_str: "string_value", _to_int: "int_value"}
ATTRIBUTE_KINDS: dict[str, str] = {
    **dict.fromkeys(ATTRIBUTE_KEYS, ""),
    **{key: _USUAL_KIND.get(entry[2], "") for key, entry in _KEYMAP.items()},
    _OPENINFERENCE_KIND: "string_value",
    "tiermix.request_id": "string_value",
    _LOGFIRE_SPAN_TYPE: "string_value",
}


def map_span(span: Span, *, keep_content: bool = False) -> Mapped | DropReport | Skipped:
    attrs = span.attributes
    if span.name == DROP_REPORT_NAME:
        return _drop_report(span)
    operation_hint = _openinference_operation(attrs) if _OPENINFERENCE_KIND in attrs else None
    if operation_hint is None and attrs.keys().isdisjoint(_GENAI_MARKERS):
        return Skipped("not_llm")
    clipped: list[str] = []
    fields = dict(_DEFAULTS)
    ranks: dict[str, int] = {}
    keymap = _KEYMAP
    tags: dict[str, str] | None = None
    content: dict[str, Any] | None = None
    for key, value in attrs.items():
        entry = keymap.get(key)
        if entry is None:
            if key.startswith(TAG_PREFIX):
                tags = _add_tag(tags, key, value)
            elif keep_content and is_capture_key(key):
                # Never a tag: content is kept apart from llm_calls (ingest/capture.py, replay_captures).
                content = {} if content is None else content
                content[key] = value
            continue
        field, rank, convert, usual_type = entry
        if value is None or rank >= ranks.get(field, 1_000):
            continue
        # The usual type needs no conversion (``type(...) is`` also keeps bools out of int fields).
        converted = value if type(value) is usual_type else convert(value, clipped)
        if converted is not None:
            ranks[field] = rank
            fields[field] = converted
    resource = span.resource
    for field in _RESOURCE_FIELDS:  # the span's own attribute wins over its resource's
        if field not in ranks:
            for key in STRING_SOURCES[field]:
                value = resource.get(key)
                if isinstance(value, str):
                    fields[field] = value
                    break
    operation = fields["operation"].strip().lower()
    operation = _OPERATION_ALIASES.get(operation, operation) or operation_hint or "chat"
    if operation in _NOT_CALL_OPERATIONS:
        return Skipped("not_llm_operation")
    fields["operation"] = operation
    fields["provider"] = fields["provider"].strip().lower()
    if not fields["model"]:
        fields["model"] = fields["request_model"]
    span_id = int.from_bytes(span.span_id, "big") if len(span.span_id) == 8 else 0
    fields["trace_id"] = span.trace_id
    fields["span_id"] = span_id
    fields["parent_span_id"] = (
        int.from_bytes(span.parent_span_id, "big") if len(span.parent_span_id) == 8 else 0
    )
    fields["request_id"] = _request_id(attrs.get("tiermix.request_id"), span_id, clipped)
    fields["start_ns"] = span.start_ns
    fields["end_ns"] = span.end_ns
    span_type = attrs.get(_LOGFIRE_SPAN_TYPE)
    fields["logfire_span_type"] = span_type
    duration_s = attrs.get(_LOGFIRE_DURATION)
    if span_type == "log" and isinstance(duration_s, float) and 0 < duration_s < 86_400:
        # Logfire logs a streamed call when it ends, as a zero-length span: its start is end - duration.
        fields["start_ns"] = span.end_ns - int(duration_s * 1e9)
    if span.scope in INPUT_EXCLUDES_CACHE_SCOPES and fields["input_tokens"] is not None:
        fields["input_tokens"] += (fields["cache_read_tokens"] or 0) + (fields["cache_write_tokens"] or 0)
    if span.status_code == _STATUS_ERROR or fields["error_type"]:
        fields["status"] = "error"
        fields["error_type"] = fields["error_type"] or "_OTHER"
    else:
        fields["status"] = "ok"
    fields["tags"] = tags or {}
    fields["content"] = content
    return Mapped(fields, clipped)


def _add_tag(tags: dict[str, str] | None, key: str, value: Any) -> dict[str, str]:
    tags = {} if tags is None else tags
    name = key[len(TAG_PREFIX) :] if key.startswith(TAG_PREFIX) else key
    tags[name] = value if isinstance(value, str) else str(value)
    return tags


def _openinference_operation(attrs: Mapping[str, Any]) -> str | None:
    kind = attrs.get(_OPENINFERENCE_KIND)
    if isinstance(kind, str):
        return _OPENINFERENCE_OPERATIONS.get(kind.upper(), "") or None
    return None


def _request_id(value: Any, span_id: int, clipped: list[str]) -> int:
    """16 hex digits (UInt64); anything else ("-1", "+ff", "0") is clipped to the span's own id."""
    if value is None or value == "":
        return span_id
    if isinstance(value, str) and _HEX_ID.fullmatch(value):
        request_id = int(value, 16)
        if request_id:
            return request_id
    clipped.append("bad_request_id")
    return span_id


def _drop_report(span: Span) -> DropReport | Skipped:
    attrs = span.attributes
    count = attrs.get("tiermix.drop.count")
    if (
        not isinstance(count, int)
        or isinstance(count, bool)
        or not 0 <= count <= MAX_DROPPED
        or len(span.span_id) != 8
    ):
        return Skipped("bad_drop_report")
    since = attrs.get("tiermix.drop.since_unix_nano")
    resource = span.resource
    return DropReport(
        ts_us=span.end_ns // 1000,
        span_id=int.from_bytes(span.span_id, "big"),
        since_us=(since if isinstance(since, int) and since > 0 else span.start_ns) // 1000,
        tenant=_lookup_str(attrs, resource, ("tiermix.tenant",)),
        service=_lookup_str(attrs, resource, ("service.name",)),
        environment=_lookup_str(attrs, resource, STRING_SOURCES["environment"]),
        reason=str(attrs.get("tiermix.drop.reason") or "unknown")[:64],
        dropped=count,
    )


def _lookup_str(attrs: Mapping[str, Any], resource: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for source in (attrs, resource):
        for key in keys:
            value = source.get(key)
            if isinstance(value, str):
                return value[:200]
    return ""
