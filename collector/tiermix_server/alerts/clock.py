"""The evaluator's notion of time, injected so tests step it instead of sleeping.

The evaluator asks its clock for "now" once per cycle and judges every window, ``for`` and
``keep_firing_for`` against that value; how often a cycle runs is a separate, real interval. Tests (and
the end-to-end spike test) hand the evaluator a ``ManualClock`` and move it forward explicitly.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that only moves when told to; safe to move from another thread than the reader's."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now = self._now + timedelta(seconds=seconds)
            return self._now
