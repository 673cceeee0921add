"""``with tiermix.call(...) as c``: record a call the SDK cannot see by itself.

For clients without auto-instrumentation (raw HTTP, in-house gateways): the block is the call, the
setters fill in what the response said. Exceptions raised in the block are recorded with their type
and propagate unchanged.

Importers, replays and simulators record calls that did not happen in the block: ``set_times``
gives the call its own start and end (instead of the wall clock around the block) and ``set_error``
records a failed call without raising. Inside a cascade such a call is still numbered by when its
block started, and an attempt that ended in an error is never the ``final`` one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from . import _runtime
from ._args import number, text
from ._args import tags as safe_tags
from ._capture import content
from ._context import call_scope
from ._log import internal_error, safe_repr, warn_once
from ._record import CallOptions, Record, error_type, otel_parent
from .extract import Extracted, extract

MAX_ERROR_TYPE_CHARS = 256
_MAX_TOKENS = 2**32 - 1  # the collector's column: a larger count is a bug, not a call


def _token_count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        count = value
    elif isinstance(value, float) and value.is_integer():
        count = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        count = int(value.strip()) if len(value.strip()) <= 10 else -1
    else:
        return None
    return count if 0 <= count <= _MAX_TOKENS else None


class Call:
    """Handle of one manually recorded call; every setter returns ``self`` and never raises."""

    def __init__(self, options: CallOptions) -> None:
        self._options = options
        self._fields: dict[str, Any] = {}
        self._cost_usd: float | None = None
        self._tags: dict[str, str] = {}
        self._first_token_ns: int | None = None
        self._content_in: Any = None
        self._content_out: Any = None
        self._start_ns = 0
        self._times: tuple[int, int] | None = None
        self._error_type: str | None = None

    def set_response(self, response: Any) -> Call:
        """Take model, usage and finish reason from a provider response object or dict."""
        try:
            found = extract(response)
            if found is not None:
                self._fields.update({k: v for k, v in found._asdict().items() if v is not None})
        except Exception:
            internal_error("call.set_response")
        return self

    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> Call:
        """Token usage in OTel semantics: input includes cached tokens, output includes reasoning.

        A count that is not a whole number from 0 up (``"12"`` is fine, ``-1``, ``1.5``, ``"x"`` are not)
        is ignored with a log line: the SDK never raises into the application.
        """
        for key, value in (
            ("input_tokens", input_tokens),
            ("output_tokens", output_tokens),
            ("cache_read_tokens", cache_read_tokens),
            ("cache_write_tokens", cache_write_tokens),
            ("reasoning_tokens", reasoning_tokens),
        ):
            if value is None:
                continue
            count = _token_count(value)
            if count is None:
                warn_once(
                    f"call.set_usage:{key}",
                    "tiermix: call.set_usage(%s=%s) ignored: want a whole number >= 0",
                    key,
                    safe_repr(value),
                )
            else:
                self._fields[key] = count
        return self

    def set_served_model(self, model: str) -> Call:
        served = text(model, "set_served_model")
        if served is not None:
            self._fields["model"] = served
        return self

    def set_finish_reason(self, reason: str) -> Call:
        finish = text(reason, "set_finish_reason")
        if finish is not None:
            self._fields["finish_reason"] = finish
        return self

    def set_cost(self, cost_usd: float) -> Call:
        """The application's own cost figure; otherwise the collector prices the call.

        Anything but a finite number >= 0 is ignored with a log line (the collector then prices it).
        """
        cost = number(cost_usd, "set_cost")
        if cost is not None and cost < 0:
            warn_once("call.set_cost", "tiermix: call.set_cost(%s) ignored: want a number >= 0", cost)
            cost = None
        if cost is not None:
            self._cost_usd = cost
        return self

    def set_tags(self, tags: Mapping[str, object] | None = None, **more: object) -> Call:
        self._tags.update(safe_tags(tags, "set_tags"))
        self._tags.update(safe_tags(more, "set_tags"))
        return self

    def set_content(self, prompt: Any = None, completion: Any = None) -> Call:
        """Prompt / completion; sent only with content capture on, clipped and redacted."""
        self._content_in, self._content_out = prompt, completion
        return self

    def set_times(self, start_ns: int, end_ns: int) -> Call:
        """The call's own start and end (Unix epoch, nanoseconds) instead of the block's wall clock.

        For importers and simulators (a backfill writes history with its real timestamps). Values that
        are not integers, negative, or with ``end_ns < start_ns`` are ignored with a log line.
        """
        try:
            start, end = int(start_ns), int(end_ns)
            if isinstance(start_ns, bool) or isinstance(end_ns, bool) or start < 0 or end < start:
                raise ValueError
            self._times = (start, end)
        except Exception:
            warn_once(
                "call.set_times",
                "tiermix: call.set_times(%s, %s) ignored: want 0 <= start_ns <= end_ns (Unix nanoseconds)",
                safe_repr(start_ns),
                safe_repr(end_ns),
            )
        return self

    def set_error(self, error_type: str) -> Call:
        """Record the call as failed (status ERROR, ``error.type``) without raising into the block.

        ``error_type`` is the error's class name, qualified like OTel's ``error.type``
        (``"openai.RateLimitError"``). An exception raised in the block takes precedence.
        """
        self._error_type = (text(error_type, "set_error") or "")[:MAX_ERROR_TYPE_CHARS] or None
        return self

    def first_token(self) -> Call:
        """Mark the arrival of the first streamed token now (time to first token)."""
        if self._first_token_ns is None:
            self._first_token_ns = time.time_ns()
        return self

    def __enter__(self) -> Call:
        self._scope = call_scope()
        self._parent = otel_parent()
        self._start_ns = time.time_ns()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            rt = _runtime.RT or _runtime.ensure()
            if rt.disabled:
                return
            fields = self._fields
            opts = self._options
            extracted = Extracted(**{"provider": opts.provider, "operation": opts.operation, **fields})
            start_ns, end_ns = self._times or (self._start_ns, time.time_ns())
            error = error_type(exc) if exc is not None else self._error_type
            record = Record(start_ns, end_ns, opts, self._scope, extracted, error, self._parent)
            record.request_model = opts.model
            record.cost_usd = self._cost_usd
            record.tags = tuple(self._tags.items())
            if self._first_token_ns is not None:
                record.ttft_ms = (self._first_token_ns - self._start_ns) / 1e6
            if rt.capture_content:
                record.content_in = content(rt, self._content_in)
                record.content_out = content(rt, self._content_out)
            rt.submit(record)
        except Exception:
            internal_error("call")

    async def __aenter__(self) -> Call:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def call(
    *,
    model: str | None = None,
    provider: str | None = None,
    route: str | None = None,
    operation: str = "chat",
    tier: str | None = None,
    tags: Mapping[str, object] | None = None,
) -> Call:
    """Record the enclosed block as one LLM call of ``model`` at ``provider``."""
    return Call(
        CallOptions(
            text(route, "route"),
            text(operation, "operation") or "chat",
            text(provider, "provider"),
            text(model, "model"),
            text(tier, "tier"),
            safe_tags(tags),
        )
    )
