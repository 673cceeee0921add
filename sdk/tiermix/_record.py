"""What one call is on its way out: a small mutable record built on the application thread.

The application thread only captures: timestamps, the options of the decorator, the context scope,
the fields extracted from the response and the current OpenTelemetry parent. Everything else
(ids, attribute building, protobuf, gzip, HTTP) happens in the export worker. ``Record`` is a plain
``__slots__`` class rather than a frozen dataclass because a cascade still has to mark attempts
(escalated, final) after they finished, and because it is built once per call on the hot path.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._context import Routing, Scope
    from .extract import Extracted


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What the developer stated at the call site (``observe(...)`` / ``call(...)``)."""

    route: str | None = None
    operation: str | None = None
    provider: str | None = None
    model: str | None = None
    tier: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    # share of calls whose prompt and answer are sent (for shadow replay); None: instrument()'s, else
    # init(capture_content=...)'s
    capture: float | None = None


NO_OPTIONS = CallOptions()


class Record:
    __slots__ = (
        "attempt",
        "content_in",
        "content_out",
        "cost_usd",
        "end_ns",
        "error_type",
        "escalated",
        "escalation_detail",
        "escalation_reason",
        "extracted",
        "failover",
        "final",
        "options",
        "parent",
        "request_id",
        "request_model",
        "routing",
        "scope",
        "start_ns",
        "tags",
        "trace_id",
        "ttft_ms",
    )

    def __init__(
        self,
        start_ns: int,
        end_ns: int,
        options: CallOptions,
        scope: Scope,
        extracted: Extracted | None,
        error_type: str | None,
        parent: tuple[int, int] | None,
    ) -> None:
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.options = options
        self.scope = scope
        self.extracted = extracted
        self.error_type = error_type
        self.parent = parent
        self.request_model: str | None = None
        self.attempt: int | None = None
        self.request_id: str | None = None
        self.trace_id: int | None = None
        self.final: bool | None = None
        self.escalated: bool | None = None
        self.escalation_reason: str | None = None
        self.escalation_detail: str | None = None
        self.failover: bool | None = None
        self.routing: Routing | None = scope.routing
        self.ttft_ms: float | None = None
        self.cost_usd: float | None = None
        self.tags: tuple[tuple[str, str], ...] = ()
        self.content_in: str | None = None
        self.content_out: str | None = None


def error_type(exc: BaseException) -> str:
    """``error.type`` per OTel: the fully qualified class name of the exception."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def otel_parent() -> tuple[int, int] | None:
    """(trace_id, span_id) of the application's current OpenTelemetry span, if one is active.

    Never imports OpenTelemetry: if the application has not loaded it, no span can be active, and
    the check costs one dict lookup.
    """
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    try:
        ctx: Any = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            return (ctx.trace_id, ctx.span_id)
    except Exception:  # a broken or exotic OTel API must not cost the call
        return None
    return None
