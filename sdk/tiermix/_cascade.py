"""Cascades: the attempts of one logical request, linked by ``request_id``.

Attempts finish before the application knows whether it will escalate, so a cascade holds its
finished records until the block ends; only then is it known which attempt answered (``final``).
Records that finish after the block closed (a stream consumed later) are exported directly.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from . import _context
from ._context import Routing
from ._log import warn_once
from ._record import Record

ESCALATION_REASONS = frozenset(
    {"verification_failed", "low_confidence", "refusal", "error", "timeout", "policy", "manual"}
)
MAX_DETAIL_CHARS = 256


def _reason(reason: str) -> str:
    if reason in ESCALATION_REASONS:
        return reason
    warn_once("reason:" + str(reason), "tiermix: unknown escalation reason %r recorded as 'manual'", reason)
    return "manual"


class Cascade:
    """Handle returned by ``with tiermix.cascade(...) as c``."""

    def __init__(self, route: str | None) -> None:
        self.route = route
        self.request_id = f"{random.getrandbits(64):016x}"
        # All attempts share one trace unless the application has its own trace active.
        self.trace_id = random.getrandbits(128) or 1
        self._records: list[Record] = []
        self._routing: Routing | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def attempts(self) -> int:
        """How many attempts have finished so far."""
        return len(self._records)

    def add(self, record: Record) -> bool:
        """Adopt a finished attempt; ``False`` when the block is over and the record goes out alone."""
        with self._lock:
            record.request_id = self.request_id
            record.attempt = len(self._records)
            if record.parent is None:
                record.trace_id = self.trace_id
            if self._routing is not None:
                record.routing = self._routing
                self._routing = None
            if self._closed:
                return False
            self._records.append(record)
            return True

    def escalate(self, reason: str, detail: str | None = None) -> None:
        """Mark the latest attempt as abandoned for a higher tier, because of ``reason``."""
        last = self._last("escalate")
        if last is not None:
            last.escalated = True
            last.escalation_reason = _reason(reason)
            last.escalation_detail = detail[:MAX_DETAIL_CHARS] if detail else None

    def failover(self, reason: str = "error", detail: str | None = None) -> None:
        """Mark the latest attempt as failed over (an error-driven retry, not a quality escalation)."""
        last = self._last("failover")
        if last is not None:
            last.failover = True
            last.escalation_reason = _reason(reason)
            last.escalation_detail = detail[:MAX_DETAIL_CHARS] if detail else None

    def decide(self, router: str, reason: str | None = None, score: float | None = None) -> None:
        """Record the routing decision for the next attempt."""
        self._routing = Routing(str(router), reason, float(score) if score is not None else None)

    def _last(self, what: str) -> Record | None:
        with self._lock:
            if self._records:
                return self._records[-1]
        warn_once("cascade-empty:" + what, "tiermix: cascade.%s() before any attempt finished; ignored", what)
        return None

    def close(self, failed: bool) -> list[Record]:
        with self._lock:
            self._closed = True
            records, self._records = self._records, []
        for record in records:
            record.final = False
            if record.escalated is None:
                record.escalated = False
        if records and not failed:
            last = records[-1]
            last.final = not (last.escalated or last.failover)
        return records


@contextmanager
def cascade(route: str | None, submit: Callable[[list[Record]], None]) -> Iterator[Cascade]:
    cas = Cascade(route)
    outer = _context.current_scope()
    token = _context._SCOPE.set(replace(outer, cascade=cas, route=route or outer.route))
    failed = True
    try:
        yield cas
        failed = False
    finally:
        _context._SCOPE.reset(token)
        submit(cas.close(failed))
