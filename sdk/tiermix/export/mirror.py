"""Replay exported calls as spans of the application's own OpenTelemetry ``TracerProvider``.

For users who want tiermix's spans in their tracing backend too (``init(tracer_provider=...)``).
Runs on the export worker with the recorded start and end times, so it adds nothing to the call;
OpenTelemetry is imported only here, and only when a provider was given.
"""

from __future__ import annotations

from typing import Any

from .._config import Settings
from .._record import Record
from . import encode


def make_mirror(tracer_provider: Any, settings: Settings) -> Any:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

    from .._version import VERSION

    tracer = tracer_provider.get_tracer("tiermix", VERSION)

    def mirror(records: list[Record]) -> None:
        for record in records:
            name, attrs = encode.call_attributes(record, settings)
            context = None
            marks = record.cascade
            trace_id = record.parent[0] if record.parent else marks.trace_id if marks is not None else None
            if trace_id:
                parent_id = record.parent[1] if record.parent else None
                if parent_id:
                    parent = SpanContext(
                        trace_id, parent_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)
                    )
                    context = trace.set_span_in_context(NonRecordingSpan(parent))
            span = tracer.start_span(
                name,
                context=context,
                kind=SpanKind.CLIENT,
                start_time=record.start_ns,
                attributes={k: list(v) if isinstance(v, tuple) else v for k, v in attrs},
            )
            if record.error_type:
                span.set_status(Status(StatusCode.ERROR))
            span.end(end_time=record.end_ns)

    return mirror
