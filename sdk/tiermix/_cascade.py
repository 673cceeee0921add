"""Cascades: the attempts of one logical request, linked by ``request_id``.

An attempt joins its cascade when it *starts* (:meth:`Cascade.begin`, called where the call captures
its scope), so ``c.escalate()`` can mark an attempt that is still running -- a stream being read, a
call whose answer is being checked. Its record arrives when it finishes. Only when the block ends is
it known which attempt answered, so the cascade holds the finished records until then and numbers
all attempts in the order they started. Records that finish after the block ended are exported
directly, with the number and ``final`` flag decided when the block ended.

The block works with ``with`` and ``async with``; the cascade lives in the scope ``ContextVar``, so
each asyncio task (and thread, see ``tiermix.bind``) sees the cascade it was started in.
"""

from __future__ import annotations

import contextvars
import random
import threading
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType

from . import _context
from ._args import text
from ._context import Routing, Scope, routing_of
from ._log import warn_once
from ._record import CascadeMarks, Record

ESCALATION_REASONS = frozenset(
    {"verification_failed", "low_confidence", "refusal", "error", "timeout", "policy", "manual"}
)
MAX_DETAIL_CHARS = 256


def _reason(reason: str) -> str:
    if reason in ESCALATION_REASONS:
        return reason
    warn_once("reason:" + str(reason), "tiermix: unknown escalation reason %r recorded as 'manual'", reason)
    return "manual"


class Attempt:
    """One attempt from its start: marks set while it runs wait here for its record."""

    __slots__ = ("cancelled", "detail", "escalated", "failover", "final", "index", "reason", "record")

    def __init__(self) -> None:
        self.record: Record | None = None
        self.cancelled = False  # recorded by someone else (an instrumented client inside @observe)
        self.escalated = False
        self.failover: bool | None = None
        self.reason: str | None = None
        self.detail: str | None = None
        self.index: int | None = None  # decided when the block ends
        self.final = False

    def apply(self, record: Record) -> None:
        marks = record.cascade
        assert marks is not None  # Cascade.add() set them when it adopted the record
        marks.attempt = self.index
        marks.final = self.final and not record.error_type  # a failed attempt answered nothing
        marks.escalated = self.escalated
        marks.failover = self.failover
        marks.escalation_reason = self.reason
        marks.escalation_detail = self.detail


class Cascade:
    """Handle returned by ``with tiermix.cascade(...) as c`` / ``async with``."""

    def __init__(self, route: str | None) -> None:
        self.route = route
        self.request_id = f"{random.getrandbits(64):016x}"
        # All attempts share one trace unless the application has its own trace active.
        self.trace_id = random.getrandbits(128) or 1
        self._attempts: list[Attempt] = []
        self._finished = 0
        self._next_index = 0
        self._routing: Routing | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def attempts(self) -> int:
        """How many attempts have finished so far."""
        return self._finished

    def begin(self, scope: Scope) -> Scope:
        """A call starts inside the block: ``scope`` as that call's, carrying its :class:`Attempt`."""
        attempt = Attempt()
        with self._lock:
            self._attempts.append(attempt)
        return replace(scope, attempt=attempt)

    def cancel(self, attempt: Attempt) -> None:
        """The call started as ``attempt`` will not be recorded (a client call inside recorded it)."""
        attempt.cancelled = True

    def add(self, record: Record) -> bool:
        """Adopt a finished attempt; ``False`` when the block is over and the record goes out alone."""
        with self._lock:
            attempt = record.scope.attempt
            if attempt is None:  # a record that did not start through begin(): numbered as it ends
                attempt = Attempt()
                self._attempts.append(attempt)
            attempt.record = record
            self._finished += 1
            record.cascade = CascadeMarks(self.request_id, self.trace_id if record.parent is None else None)
            if self._routing is not None:
                record.routing = self._routing
                self._routing = None
            if not self._closed:
                return True
            if attempt.index is None:  # started after the block ended: not part of its decision
                attempt.index = self._next_index
                self._next_index += 1
            attempt.apply(record)
            return False

    def escalate(self, reason: str, detail: str | None = None) -> None:
        """Mark the current attempt (the latest started, finished or not) as abandoned for a higher tier."""
        self._mark("escalate", reason, detail)

    def failover(self, reason: str = "error", detail: str | None = None) -> None:
        """Mark the current attempt as failed over (an error-driven retry, not a quality escalation)."""
        self._mark("failover", reason, detail)

    def decide(self, router: str, reason: str | None = None, score: float | None = None) -> None:
        """Record the routing decision for the next attempt."""
        self._routing = routing_of(router, reason, score)

    def _mark(self, what: str, reason: object, detail: object) -> None:
        reason = _reason(text(reason, "escalation reason") or "")
        detail_text = text(detail, "escalation detail")
        detail = detail_text[:MAX_DETAIL_CHARS] if detail_text else None
        with self._lock:  # the block may be ending on another thread: mark before or not at all
            current = (
                None if self._closed else next((a for a in reversed(self._attempts) if not a.cancelled), None)
            )
            if current is not None:
                if what == "escalate":
                    current.escalated = True
                else:
                    current.failover = True
                current.reason, current.detail = reason, detail
                return
            closed = self._closed
        if closed:
            warn_once("cascade-closed:" + what, "tiermix: cascade.%s() after the block ended; ignored", what)
        else:
            warn_once(
                "cascade-empty:" + what, "tiermix: cascade.%s() before any attempt started; ignored", what
            )

    def close(self, failed: bool) -> list[Record]:
        """End the block: number the attempts, pick the final one, return the finished records.

        The last started attempt is final unless it was escalated, failed over or ended in an error.
        """
        with self._lock:
            self._closed = True
            live = [a for a in self._attempts if not a.cancelled]
            self._attempts = live
            for index, attempt in enumerate(live):
                attempt.index = index
            self._next_index = len(live)
            if live and not failed:
                last = live[-1]
                last.final = not (last.escalated or last.failover)
            ready = []
            for attempt in live:
                if attempt.record is not None:
                    attempt.apply(attempt.record)
                    ready.append(attempt.record)
        return ready


class CascadeBlock:
    """The ``with`` / ``async with`` block of one cascade; use each block once."""

    __slots__ = ("_cascade", "_route", "_submit", "_token")

    def __init__(self, route: str | None, submit: Callable[[list[Record]], None]) -> None:
        self._route = route
        self._submit = submit
        self._cascade: Cascade | None = None
        self._token: contextvars.Token[Scope] | None = None

    def __enter__(self) -> Cascade:
        outer = _context.current_scope()
        cascade = self._cascade = Cascade(self._route)
        self._token = _context.set_scope(replace(outer, cascade=cascade, route=self._route or outer.route))
        return cascade

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _context.reset_scope(self._token)
        if self._cascade is not None:
            self._submit(self._cascade.close(failed=exc_type is not None))

    async def __aenter__(self) -> Cascade:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def cascade(route: str | None, submit: Callable[[list[Record]], None]) -> CascadeBlock:
    return CascadeBlock(route, submit)
