"""Records → the bytes of an OTLP ``ExportTraceServiceRequest`` (``wire.py`` writes the format).

Runs on the export worker only. The attribute names are the contract of ``docs/wire.md``; a change
here is a change of the wire format.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from .._config import Settings
from .._record import Record
from .._version import VERSION
from ..extract import sane
from . import wire
from .drops import DropReport

CLIENT = 3  # Span.SpanKind.SPAN_KIND_CLIENT
INTERNAL = 1  # Span.SpanKind.SPAN_KIND_INTERNAL
_SCOPE = wire.scope("tiermix", VERSION)
_getrandbits = random.getrandbits


def resource_for(settings: Settings) -> bytes:
    """The serialized ``Resource`` of every request this process sends."""
    attrs: list[tuple[str, object]] = [
        ("service.name", settings.service),
        ("telemetry.sdk.name", "tiermix"),
        ("telemetry.sdk.version", VERSION),
        ("telemetry.sdk.language", "python"),
    ]
    if settings.environment:
        attrs.append(("deployment.environment.name", settings.environment))
    attrs.extend(settings.resource_attributes)
    return wire.resource(attrs)


def call_attributes(record: Record, settings: Settings) -> tuple[str, list[tuple[str, object]]]:
    """Span name and attributes of one call, in wire.md order; ``None`` values are left out."""
    opts, scope, ex = record.options, record.scope, sane(record.extracted)
    operation = opts.operation or (ex.operation if ex else None) or "chat"
    request_model = record.request_model or opts.model
    model = ex.model if ex else None
    provider = opts.provider or (ex.provider if ex else None)
    attrs: list[tuple[str, object]] = [("gen_ai.operation.name", operation)]
    if provider:
        attrs.append(("gen_ai.provider.name", provider))
    if request_model:
        attrs.append(("gen_ai.request.model", request_model))
    if model:
        attrs.append(("gen_ai.response.model", model))
    if ex is not None:
        usage: tuple[tuple[str, int | None], ...] = (
            ("gen_ai.usage.input_tokens", ex.input_tokens),
            ("gen_ai.usage.output_tokens", ex.output_tokens),
            ("gen_ai.usage.cache_read.input_tokens", ex.cache_read_tokens),
            ("gen_ai.usage.cache_creation.input_tokens", ex.cache_write_tokens),
            ("gen_ai.usage.reasoning.output_tokens", ex.reasoning_tokens),
        )
        attrs.extend((key, tokens) for key, tokens in usage if tokens is not None)
        if ex.finish_reason:
            attrs.append(("gen_ai.response.finish_reasons", (str(ex.finish_reason),)))
    if record.error_type:
        attrs.append(("error.type", record.error_type))
    tenant = scope.tenant or settings.tenant
    route = opts.route or scope.route or settings.route
    routing = record.routing
    # One test per attribute, in wire.md order: most are absent on most calls, and no pair is built
    # for those (this runs once per call on the export worker, in the application's process).
    append = attrs.append
    if tenant is not None:
        append(("tiermix.tenant", tenant))
    if route is not None:
        append(("tiermix.route", route))
    if scope.user_hash is not None:
        append(("tiermix.user_hash", scope.user_hash))
    marks = record.cascade
    if marks is not None:
        append(("tiermix.request_id", marks.request_id))
        if marks.attempt is not None:
            append(("tiermix.attempt", marks.attempt))
        if marks.final is not None:
            append(("tiermix.final", marks.final))
        if marks.escalated is not None:
            append(("tiermix.escalated", marks.escalated))
        if marks.failover is not None:
            append(("tiermix.failover", marks.failover))
        if marks.escalation_reason is not None:
            append(("tiermix.escalation_reason", marks.escalation_reason))
        if marks.escalation_detail is not None:
            append(("tiermix.escalation_detail", marks.escalation_detail))
    if opts.tier is not None:
        append(("tiermix.tier", opts.tier))
    if routing is not None:
        for key, value in (
            ("tiermix.router", routing.router),
            ("tiermix.routing_reason", routing.reason),
            ("tiermix.routing_score", routing.score),
        ):
            if value is not None:
                append((key, value))
    if record.ttft_ms is not None:
        append(("tiermix.ttft_ms", record.ttft_ms))
    if record.cost_usd is not None:
        append(("tiermix.cost_usd", record.cost_usd))
    if record.content_in is not None:
        append(("gen_ai.input.messages", record.content_in))
    if record.content_out is not None:
        append(("gen_ai.output.messages", record.content_out))
    if scope.tags or opts.tags or record.tags:  # most calls carry none: no dicts built for them
        tags = dict(scope.tags)
        tags.update(opts.tags)
        tags.update(record.tags)
        attrs.extend(("tiermix.tag." + k, v) for k, v in tags.items())
    name = f"{operation} {request_model or model}" if (request_model or model) else operation
    return name, attrs


def ids_for(record: Record) -> tuple[int, int, int | None]:
    """(trace_id, span_id, parent_span_id): the app's OTel parent, else the cascade's trace, else new."""
    if record.parent is not None:
        trace_id, parent_id = record.parent
        return trace_id, _getrandbits(64) or 1, parent_id
    marks = record.cascade
    cascade_trace = marks.trace_id if marks is not None else None
    return cascade_trace or _getrandbits(128) or 1, _getrandbits(64) or 1, None


def encode(
    records: Sequence[Record], settings: Settings, resource: bytes, reports: Iterable[DropReport] = ()
) -> bytes:
    """One serialized export request: a span per call record, then one per drop report."""
    spans = []
    for record in records:
        name, attrs = call_attributes(record, settings)
        trace_id, span_id, parent_id = ids_for(record)
        spans.append(
            wire.span(
                trace_id.to_bytes(16, "big"),
                span_id.to_bytes(8, "big"),
                parent_id.to_bytes(8, "big") if parent_id else b"",
                name,
                CLIENT,
                record.start_ns,
                record.end_ns,
                attrs,
                error=bool(record.error_type),
            )
        )
    for report in reports:
        drop_attrs: list[tuple[str, object]] = [
            ("tiermix.drop.count", report.count),
            ("tiermix.drop.reason", report.reason),
            ("tiermix.drop.since_unix_nano", report.since_ns),
        ]
        spans.append(
            wire.span(
                (_getrandbits(128) or 1).to_bytes(16, "big"),
                (_getrandbits(64) or 1).to_bytes(8, "big"),
                b"",
                "tiermix.drop_report",
                INTERNAL,
                report.since_ns,
                report.until_ns,
                drop_attrs,
            )
        )
    return wire.export_request(resource, _SCOPE, spans)
