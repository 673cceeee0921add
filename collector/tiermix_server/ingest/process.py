"""One decoded OTLP request → call rows, drop-report rows and outcome counts (the pure core of ingest).

decode → map → collapse → validate → enrich. Every span ends in exactly one outcome — accepted,
rejected (with a reason, reported back through ``partial_success``) or skipped (not an LLM call, a
malformed drop report, another span of a call already counted) — so the counts in ``ingest_stats`` and
``/metrics`` always add up to the spans received. A tenant-bound API key stamps its tenant on every row:
a span cannot claim another tenant. Spans of one provider call seen by several instrumentations become
one row (``identity.py``); each row carries the keys that recognise it when it comes again.
"""

from __future__ import annotations

import operator
from collections import Counter
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tiermix_server.gc_pause import cycle_collection_paused
from tiermix_server.ingest.capture import CaptureGate
from tiermix_server.ingest.decode import read_spans
from tiermix_server.ingest.enrich import NO_USAGE, Enricher, enrich_fields
from tiermix_server.ingest.identity import Member, Sources, call_keys, collapse, is_pair_half
from tiermix_server.ingest.mapping import (
    ATTRIBUTE_KINDS,
    ATTRIBUTE_PREFIXES,
    DropReport,
    Mapped,
    Skipped,
    map_span,
)
from tiermix_server.ingest.processed import ACCEPTED, CLIPPED, REJECTED, SKIPPED, Processed
from tiermix_server.ingest.validate import DEFAULT_TENANT, MAX_TENANT, Limits, validate
from tiermix_server.ingest.write import LLM_CALLS_COLUMNS, CallRow

TENANT_INDEX = LLM_CALLS_COLUMNS.index("tenant")
_as_row = operator.itemgetter(*LLM_CALLS_COLUMNS)  # fields dict → row tuple in column order, in C


_Pending = tuple[Mapped, Sources, list[Member]]  # an LLM span's fields, its scopes, the spans it stands for


def process(
    request: ExportTraceServiceRequest,
    *,
    enricher: Enricher,
    limits: Limits,
    capture: CaptureGate | None = None,
    tenant: str | None = None,
    ignore_scopes: frozenset[str] = frozenset(),
    keep_content: bool | None = None,
    wire: bytes | None = None,
) -> Processed:
    """Turn every span of ``request`` into a row or a counted outcome; never raises on span content.

    ``wire``: the protobuf bytes ``request`` was parsed from, read by the compiled reader when given
    (``decode.read_spans``); None for OTLP/JSON, or to read the parsed message only.

    With ``capture``, captures are taken at once; a decode worker (``decode_pool.py``) passes
    ``keep_content`` instead and leaves the content in ``contents`` for the collector's ``take_captures``.
    """
    # Decoding allocates a few dicts per span and makes no reference cycles: the cycle collector would
    # only re-scan them (a third of the per-span time, docs/performance.md), so it waits until the end.
    with cycle_collection_paused():
        return _process(request, wire, enricher, limits, capture, tenant, ignore_scopes, keep_content)


def _process(
    request: ExportTraceServiceRequest,
    wire: bytes | None,
    enricher: Enricher,
    limits: Limits,
    capture: CaptureGate | None,
    tenant: str | None,
    ignore_scopes: frozenset[str],
    keep_content: bool | None,
) -> Processed:
    out = Processed()
    outcomes = out.outcomes
    if keep_content is None:
        keep_content = capture is not None and capture.active  # no policy: content is never decoded
    spans = read_spans(
        request, wire, keep_content=keep_content, kinds=ATTRIBUTE_KINDS, prefixes=ATTRIBUTE_PREFIXES
    )
    calls: list[_Pending] = []
    for span in spans:
        if span.scope in ignore_scopes:
            outcomes[(tenant or _span_tenant(span.attributes, span.resource), SKIPPED, "ignored_scope")] += 1
            continue
        mapped = map_span(span, keep_content=keep_content)
        if isinstance(mapped, Skipped):
            outcomes[(tenant or _span_tenant(span.attributes, span.resource), SKIPPED, mapped.reason)] += 1
            continue
        if isinstance(mapped, DropReport):
            row_tenant = tenant or mapped.tenant or DEFAULT_TENANT
            out.drops.append(
                (
                    mapped.ts_us,
                    mapped.span_id,
                    mapped.since_us,
                    row_tenant,
                    mapped.service,
                    mapped.environment,
                    mapped.reason,
                    mapped.dropped,
                )
            )
            outcomes[(row_tenant, SKIPPED, "drop_report")] += 1
            continue
        fields = mapped.fields
        # Resolved here already (the same-call merge is tenant-scoped); "" is a trusted sender's span
        # naming no tenant: it may join a claimed span of its call, and takes the default tenant if not.
        claimed = tenant or fields["tenant"]
        if len(claimed) > MAX_TENANT:
            mapped.clipped.append("string_too_long")
        fields["tenant"] = claimed[:MAX_TENANT]
        if is_pair_half(fields, span.scope):
            outcomes[(fields["tenant"] or DEFAULT_TENANT, SKIPPED, "stream_request_half")] += 1
            continue
        member = Member(fields["span_id"], fields["parent_span_id"])
        calls.append((mapped, (span.scope, span.scope), [member]))
    if len(calls) > 1:
        calls = _collapse(calls, outcomes)
    trusted = tenant is None
    # The lists bound once: ``calls`` and ``scopes`` are properties of ``Processed`` (processed.py).
    rows, contents, keys, scopes = out.calls, out.contents, out.keys, out.scopes
    for mapped, sources, members in calls:
        fields = mapped.fields
        unclaimed = not fields["tenant"]
        if unclaimed:
            fields["tenant"] = DEFAULT_TENANT
        provider, response_id = fields["provider"], fields.pop("response_id")
        fields.pop("logfire_span_type")
        row = _call_row(mapped, enricher, limits)
        if isinstance(row, str):
            outcomes[(fields["tenant"], REJECTED, row)] += 1
            continue
        rows.append(row)
        contents.append(fields["content"] or None)
        row_tenant = row[TENANT_INDEX]
        keys.append(
            call_keys(
                row_tenant, fields["trace_id"], members, provider, response_id,
                trusted=trusted, claimed=not unclaimed, awaits_usage=fields["price_source"] == NO_USAGE,
            )
        )  # fmt: skip
        scopes.append(sources)
        outcomes[(row_tenant, ACCEPTED, "")] += 1
        for reason in mapped.clipped:
            outcomes[(row_tenant, CLIPPED, reason)] += 1
    if capture is not None or not keep_content:  # else a decode worker's: content goes back with the rows
        take_captures(out, capture)
    return out


def take_captures(processed: Processed, capture: CaptureGate | None) -> None:
    """Fill ``processed.captures`` from its content (one entry per call row) and drop the content."""
    contents = processed.contents
    if capture is None or not any(contents):
        processed.captures = [None] * processed.call_count
    else:
        processed.captures = [
            capture.take(row, content) if content else None
            for row, content in zip(processed.calls, contents, strict=True)
        ]
    processed.contents = []


def _collapse(calls: list[_Pending], outcomes: Counter[tuple[str, str, str]]) -> list[_Pending]:
    """Merge the spans of one call (``identity.collapse``), counting each span merged away."""
    merged, aggregates = collapse([(mapped.fields, sources[0]) for mapped, sources, _ in calls])
    clipped_of = {mapped.fields["span_id"]: mapped.clipped for mapped, _, _ in calls}
    for fields in aggregates:
        outcomes[(fields["tenant"] or DEFAULT_TENANT, SKIPPED, "aggregate_span")] += 1
    out: list[_Pending] = []
    for fields, members, sources in merged:
        clipped = [reason for member in members for reason in clipped_of.get(member.span_id, ())]
        out.append((Mapped(fields, clipped), sources, members))
        if len(members) > 1:
            outcomes[(fields["tenant"] or DEFAULT_TENANT, SKIPPED, "same_call")] += len(members) - 1
    return out


def _call_row(mapped: Mapped, enricher: Enricher, limits: Limits) -> CallRow | str:
    fields: dict[str, Any] = mapped.fields
    reason = validate(fields, mapped.clipped, limits)
    if reason is not None:
        return reason
    enrich_fields(enricher, fields, mapped.clipped)
    return _as_row(fields)


def _span_tenant(attributes: Any, resource: Any) -> str:
    value = attributes.get("tiermix.tenant") or resource.get("tiermix.tenant")
    return value[:MAX_TENANT] if isinstance(value, str) and value else DEFAULT_TENANT
