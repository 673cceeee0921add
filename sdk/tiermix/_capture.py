"""Turning one finished call into a :class:`Record` and handing it to the runtime.

Shared by ``observe``, ``call`` and the instrumented clients. Every function here is called on the
application thread and swallows its own failures: recording a call must never cost the call.
"""

from __future__ import annotations

import json
import random
import time
from typing import TYPE_CHECKING, Any

from ._context import Scope, cancel_attempt
from ._log import internal_error
from ._record import CallOptions, Record, error_type
from .extract import Extracted, extract, output_text
from .extract.stream import StreamAccumulator

if TYPE_CHECKING:
    from ._runtime import Runtime


def content_json(value: object, max_chars: int) -> str:
    """Prompt / completion as JSON text (a plain string as is), clipped to ``max_chars``."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text[:max_chars]


# instrument(capture=...): the share of instrumented calls whose content is sent, outside an observe()
# with a capture of its own; [None]: follow init(capture_content=...)
INSTRUMENT_CAPTURE: list[float | None] = [None]
_random = random.random
_time_ns = time.time_ns


def wants_content(rt: Runtime, options: CallOptions) -> bool:
    """Whether this call's prompt and answer are sent: the call site's sampled share, else everything
    with ``capture_content`` on. Decided once per call, on the application thread."""
    rate = options.capture
    if rate is None:
        rate = INSTRUMENT_CAPTURE[0]
        if rate is None:
            return rt.capture_content
    return rate >= 1.0 or (rate > 0.0 and _random() < rate)


def content(rt: Runtime, value: Any) -> str | None:
    """Prompt or answer text as sent: only with content capture on, clipped, then redacted."""
    if value is None:
        return None
    settings = rt.settings
    text = content_json(value, settings.max_content_chars)
    if settings.redact is not None:
        try:
            return settings.redact(text)
        except Exception:
            internal_error("redact hook")
            return None  # a failing redactor must not leak what it was meant to hide
    return text


def finish(
    rt: Runtime,
    options: CallOptions,
    scope: Scope,
    parent: tuple[int, int] | None,
    start_ns: int,
    result: Any,
    exc: BaseException | None,
    request_model: str | None = None,
    prompt: Any = None,
    capture: bool | None = None,
) -> None:
    try:
        end_ns = _time_ns()
        extracted = extract(result) if result is not None else None
        record = Record(
            start_ns, end_ns, options, scope, extracted, error_type(exc) if exc is not None else None, parent
        )
        if request_model is not None:
            record.request_model = request_model
        if rt.capture_content if capture is None else capture:
            record.content_in = content(rt, prompt)
            if result is not None:
                record.content_out = content(rt, output_text(result))
        rt.submit(record)
    except Exception:
        internal_error("record call")


class StreamCall:
    """A call that ends when its stream is consumed, closed or fails (at most once)."""

    __slots__ = (
        "_acc",
        "_done",
        "capture",
        "hide_usage_chunk",
        "options",
        "parent",
        "prompt",
        "request_model",
        "rt",
        "scope",
        "start_ns",
    )

    def __init__(
        self,
        rt: Runtime,
        options: CallOptions,
        scope: Scope,
        parent: tuple[int, int] | None,
        start_ns: int,
        request_model: str | None = None,
        prompt: Any = None,
        capture: bool | None = None,
    ) -> None:
        self.rt = rt
        self.capture = rt.capture_content if capture is None else capture
        self.options = options
        self.scope = scope
        self.parent = parent
        self.start_ns = start_ns
        self.request_model = request_model
        self.prompt = prompt
        self._acc = StreamAccumulator(rt.settings.max_content_chars if self.capture else None)
        self._done = False
        # The SDK asked for usage itself (stream_usage.py): the usage-only chunk is not the app's.
        self.hide_usage_chunk = False

    def chunk(self, item: Any) -> None:
        try:
            self._acc.feed(item)
        except Exception:
            internal_error("stream chunk")

    def cancel(self) -> None:
        """Never record this call (someone else recorded it)."""
        self._done = True
        cancel_attempt(self.scope)

    def complete(self, response: Any) -> None:
        """End with a whole (non-streamed) response after all, e.g. a parsed ``with_raw_response``."""
        if self._done:
            return
        self._done = True
        finish(
            self.rt,
            self.options,
            self.scope,
            self.parent,
            self.start_ns,
            response,
            None,
            self.request_model,
            self.prompt,
            self.capture,
        )

    def end(self, exc: BaseException | None) -> None:
        if self._done:
            return
        self._done = True
        try:
            extracted: Extracted = self._acc.result()
            record = Record(
                self.start_ns,
                time.time_ns(),
                self.options,
                self.scope,
                extracted,
                error_type(exc) if exc is not None else None,
                self.parent,
            )
            record.request_model = self.request_model
            first = self._acc.first_token_ns
            if first is not None:
                record.ttft_ms = (first - self.start_ns) / 1e6
            if self.capture:
                record.content_in = content(self.rt, self.prompt)
                record.content_out = content(self.rt, self._acc.text())
            self.rt.submit(record)
        except Exception:
            internal_error("record stream")
