"""Counts of calls the SDK had to drop, by reason, until the collector has been told.

Drops are counted on the application thread (queue full) and on the worker; both paths are rare, so
a lock is fine. A report is taken as a snapshot and only subtracted once it was delivered, so a
report lost to a still-dead collector is sent again later.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

REASONS = ("queue_full", "export_failed", "rejected", "spool_full", "encode_error")


@dataclass(frozen=True, slots=True)
class DropReport:
    reason: str
    count: int
    since_ns: int
    until_ns: int


class DropCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}  # reason -> [count, since_ns]
        self.total: dict[str, int] = {}  # for introspection, stats() and flush(); never reset

    @property
    def total_dropped(self) -> int:
        with self._lock:
            return sum(self.total.values())

    def add(self, reason: str, count: int = 1) -> None:
        with self._lock:
            entry = self._counts.get(reason)
            if entry is None:
                self._counts[reason] = [count, time.time_ns()]
            else:
                entry[0] += count
            self.total[reason] = self.total.get(reason, 0) + count

    def pending(self) -> bool:
        return bool(self._counts)

    def snapshot(self) -> list[DropReport]:
        now = time.time_ns()
        with self._lock:
            return [DropReport(r, c, since, now) for r, (c, since) in self._counts.items() if c > 0]

    def commit(self, reports: list[DropReport]) -> None:
        """Forget what ``reports`` covered; drops counted since the snapshot stay pending."""
        with self._lock:
            for report in reports:
                entry = self._counts.get(report.reason)
                if entry is None:
                    continue
                entry[0] -= report.count
                if entry[0] <= 0:
                    del self._counts[report.reason]
                else:
                    entry[1] = report.until_ns
