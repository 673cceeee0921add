"""Spans from any GenAI instrumentation → call-record fields (DESIGN.md §3, §4), table-driven.

Each call-record field lists the attributes it may come from, in precedence order: the tiermix SDK and
the current OTel GenAI conventions (v1.41) first, then older OTel names, then OpenLLMetry, OpenLIT,
OpenInference and Logfire spellings. The first attribute present on the span wins; the same table is
then tried on the resource. So a span carrying both ``gen_ai.usage.input_tokens`` and
``gen_ai.usage.prompt_tokens`` is read from the current name, and an instrumentation that only knows
the older one still lands.

A span is a call when it names a model or a GenAI operation/provider (or OpenInference calls it an LLM
or EMBEDDING span); other spans (HTTP, chains, tools, agents) are *skipped* with a reason, never stored.
``tiermix.drop_report`` spans become ``sdk_drops`` rows. Mapping never raises on odd attribute types: a
value of the wrong type is ignored and noted as a clip reason, so validation can count it.

The fields are a plain dict keyed by ``llm_calls`` column name (plus ``explicit_tier`` and
``sdk_cost_usd`` for enrichment): this runs once per span on the hot path, and one dict is the cheapest
shape that validation and enrichment can both fill in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tiermix_server.ingest.decode import Span

DROP_REPORT_NAME = "tiermix.drop_report"
TAG_PREFIX = "tiermix.tag."

STRING_SOURCES: dict[str, tuple[str, ...]] = {
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "operation": ("gen_ai.operation.name", "llm.request.type"),
    "request_model": ("gen_ai.request.model", "llm.request.model"),
    "model": ("gen_ai.response.model", "llm.response.model", "llm.model_name", "embedding.model_name"),
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
    "ttft_ms": (("tiermix.ttft_ms", 1.0), ("gen_ai.server.time_to_first_token", 1000.0)),
    "routing_score": (("tiermix.routing_score", 1.0),),
    # The application's own figure wins over the price book; OpenLIT's computed cost is taken the same way.
    "sdk_cost_usd": (("tiermix.cost_usd", 1.0), ("gen_ai.usage.cost", 1.0)),
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


def map_span(span: Span, *, keep_content: bool = False) -> Mapped | DropReport | Skipped:
    attrs = span.attributes
    if span.name == DROP_REPORT_NAME:
        return _drop_report(span)
    operation_hint = _openinference_operation(attrs)
    if operation_hint is None and not any(key in attrs for key in _GENAI_MARKERS):
        return Skipped("not_llm")
    clipped: list[str] = []
    fields: dict[str, Any] = {}
    resource = span.resource
    for field, keys in STRING_SOURCES.items():
        fields[field] = _first_str(attrs, resource, keys, clipped)
    operation = fields["operation"].strip().lower()
    operation = _OPERATION_ALIASES.get(operation, operation) or operation_hint or "chat"
    if operation in _NOT_CALL_OPERATIONS:
        return Skipped("not_llm_operation")
    fields["operation"] = operation
    fields["provider"] = fields["provider"].strip().lower()
    if not fields["model"]:
        fields["model"] = fields["request_model"]
    for field, keys in INT_SOURCES.items():
        fields[field] = _first_int(attrs, keys, clipped)
    for field, scaled in FLOAT_SOURCES.items():
        fields[field] = _first_float(attrs, scaled, clipped)
    for field, (key, default) in BOOL_SOURCES.items():
        value = attrs.get(key)
        fields[field] = value if isinstance(value, bool) else default
    fields["finish_reason"] = _finish_reason(attrs)
    fields["trace_id"] = span.trace_id
    fields["span_id"] = int.from_bytes(span.span_id, "big") if len(span.span_id) == 8 else 0
    fields["parent_span_id"] = (
        int.from_bytes(span.parent_span_id, "big") if len(span.parent_span_id) == 8 else 0
    )
    fields["request_id"] = _request_id(attrs.get("tiermix.request_id"), fields["span_id"], clipped)
    fields["start_ns"] = span.start_ns
    fields["end_ns"] = span.end_ns
    is_error = span.status_code == _STATUS_ERROR or bool(fields["error_type"])
    fields["status"] = "error" if is_error else "ok"
    if is_error and not fields["error_type"]:
        fields["error_type"] = "_OTHER"
    fields["tags"] = _tags(attrs, keep_content)
    return Mapped(fields, clipped)


def _openinference_operation(attrs: Mapping[str, Any]) -> str | None:
    kind = attrs.get(_OPENINFERENCE_KIND)
    if isinstance(kind, str):
        return _OPENINFERENCE_OPERATIONS.get(kind.upper(), "") or None
    return None


def _first_str(
    attrs: Mapping[str, Any], resource: Mapping[str, Any], keys: tuple[str, ...], clipped: list[str]
) -> str:
    for source in (attrs, resource):
        for key in keys:
            value = source.get(key)
            if value is None:
                continue
            if isinstance(value, str):
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)
            clipped.append("wrong_type")
    return ""


def _first_int(attrs: Mapping[str, Any], keys: tuple[str, ...], clipped: list[str]) -> int | None:
    for key in keys:
        value = attrs.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            clipped.append("wrong_type")
        elif isinstance(value, int):
            return value
        elif (isinstance(value, float) and math.isfinite(value)) or (
            isinstance(value, str) and value.strip().lstrip("-").isdigit()
        ):
            return int(value)
        else:
            clipped.append("wrong_type")
    return None


def _first_float(
    attrs: Mapping[str, Any], scaled: tuple[tuple[str, float], ...], clipped: list[str]
) -> float | None:
    for key, scale in scaled:
        value = attrs.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) * scale
        try:
            return float(value) * scale if isinstance(value, str) else None
        except ValueError:
            clipped.append("wrong_type")
    return None


def _finish_reason(attrs: Mapping[str, Any]) -> str:
    for key in FINISH_REASON_SOURCES:
        value = attrs.get(key)
        if isinstance(value, list) and value and isinstance(value[0], str):
            return value[0]
        if isinstance(value, str):
            return value
    return ""


def _request_id(value: Any, span_id: int, clipped: list[str]) -> int:
    if value is None or value == "":
        return span_id
    if isinstance(value, str) and len(value) <= 16:
        try:
            return int(value, 16)
        except ValueError:
            pass
    clipped.append("bad_request_id")
    return span_id


def _tags(attrs: Mapping[str, Any], keep_content: bool) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, value in attrs.items():
        if key.startswith(TAG_PREFIX):
            tags[key[len(TAG_PREFIX) :]] = value if isinstance(value, str) else str(value)
    if keep_content:
        from tiermix_server.ingest.decode import is_content_key

        for key, value in attrs.items():
            if is_content_key(key):
                tags[key] = value if isinstance(value, str) else str(value)
    return tags


def _drop_report(span: Span) -> DropReport | Skipped:
    attrs = span.attributes
    count = attrs.get("tiermix.drop.count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0 or len(span.span_id) != 8:
        return Skipped("bad_drop_report")
    since = attrs.get("tiermix.drop.since_unix_nano")
    resource = span.resource
    return DropReport(
        ts_us=span.end_ns // 1000,
        span_id=int.from_bytes(span.span_id, "big"),
        since_us=(since if isinstance(since, int) and since > 0 else span.start_ns) // 1000,
        tenant=_first_str(attrs, resource, ("tiermix.tenant",), []),
        service=_first_str(attrs, resource, ("service.name",), []),
        environment=_first_str(attrs, resource, STRING_SOURCES["environment"], []),
        reason=str(attrs.get("tiermix.drop.reason") or "unknown")[:64],
        dropped=count,
    )
