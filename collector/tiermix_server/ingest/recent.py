"""Recently stored span ids: catches the same span re-sent in a *different* request.

Why this exists next to ClickHouse's block dedup: an insert token makes a replay of the *same batch*
exact (retries, spool drains, crash recovery), but an SDK whose export timed out re-sends its spans in a
new request, which lands in a new batch with a new token. ``llm_calls`` would collapse that duplicate at
merge time (ReplacingMergeTree), but the rollups fed by materialized views would count it twice. So the
collector remembers recently stored span ids and drops a re-sent span before it reaches a batch.

Bounds: two generations of ids, rotated when the current one is older than ``window_s`` or holds
``max_ids`` ids, so memory stays bounded (about 2 x ``max_ids`` ints) whatever the rate. After a
restart the filter is seeded from the span ids ClickHouse stored in the last window and from the spool.
A re-send older than the window is caught by ReplacingMergeTree in raw queries, not in the rollups.

A span whose first copy is still in flight (not yet durable) is not acknowledged on the strength of that
copy alone: the second request waits for the first copy's outcome, and fails with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable


class RecentSpans:
    def __init__(
        self, *, max_ids: int = 250_000, window_s: float = 600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_ids = max_ids
        self._window_s = window_s
        self._clock = clock
        self._current: set[int] = set()
        self._previous: set[int] = set()
        self._rotated_at = clock()
        self._in_flight: dict[int, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def seed(self, span_ids: Iterable[int]) -> None:
        for span_id in span_ids:
            self._add(span_id)

    def claim(
        self, span_ids: list[int], owner: asyncio.Future[None]
    ) -> tuple[list[bool], set[asyncio.Future[None]]]:
        """Mark which ids are new (claimed for ``owner``); return futures of copies still in flight."""
        keep: list[bool] = []
        waits: set[asyncio.Future[None]] = set()
        current, previous, in_flight = self._current, self._previous, self._in_flight
        for span_id in span_ids:
            if span_id in current or span_id in previous:
                keep.append(False)
                continue
            other = in_flight.get(span_id)
            if other is None:
                in_flight[span_id] = owner
                keep.append(True)
                continue
            keep.append(False)
            if other is not owner:
                waits.add(other)
        return keep, waits

    def settle(self, span_ids: Iterable[int], durable: bool) -> None:
        """The batch holding ``span_ids`` is durable (remember them) or failed (forget the claim)."""
        in_flight = self._in_flight
        for span_id in span_ids:
            in_flight.pop(span_id, None)
            if durable:
                self._add(span_id)

    def _add(self, span_id: int) -> None:
        if len(self._current) >= self._max_ids or self._clock() - self._rotated_at > self._window_s:
            self._previous = self._current
            self._current = set()
            self._rotated_at = self._clock()
        self._current.add(span_id)
