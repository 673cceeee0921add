"""Keys of recently stored calls: catches a call that comes again in a *different* request.

Why this exists next to ClickHouse's block dedup: an insert token makes a replay of the *same batch*
exact (retries, spool drains, crash recovery), but an SDK whose export timed out re-sends its spans in a
new request, and another instrumentation's span of the same call comes in a request of its own; both
land in a new batch with a new token, and the rollups fed by materialized views would count them twice.
So the collector remembers the keys of what it stored (``identity.CallKeys``: tenant-scoped span,
parent and response-id keys) and skips a call whose lookup keys meet one of them.

Bounds: two generations of keys, rotated when the current one is older than ``window_s`` or holds
``max_keys`` keys, so memory stays bounded (about 2 x ``max_keys`` ints) whatever the rate. What is no
longer in memory is in ClickHouse (``call_keys``): ``covers(ts)`` says whether memory alone can answer
for a call that started at ``ts`` (epoch seconds) — only calls that started after the oldest generation
in memory began, less a margin for client clock skew. The pipeline asks ClickHouse about the others, so
a re-send after any downtime is still caught. With several collectors writing one database
(``TIERMIX_REPLICAS=many``) memory covers nothing: every batch is checked against ClickHouse, because
a client's retry may have reached another replica.

A call whose first copy is still in flight (not yet durable) is not acknowledged on the strength of
that copy alone: the second request waits for the first copy's outcome, and fails with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence

from tiermix_server.ingest.identity import CallKeys

# A client clock this far ahead of the collector's still gets an exact answer (NTP keeps hosts far closer).
CLOCK_SKEW_S = 30.0


class RecentKeys:
    def __init__(
        self,
        *,
        max_keys: int = 500_000,
        window_s: float = 600.0,
        clock: Callable[[], float] = time.time,
        alone: bool = True,
    ) -> None:
        # alone: this collector is the only one writing the database, so what it did not store lately
        # (memory) nobody did; with replicas behind a balancer a re-send may have gone to another one.
        self._alone = alone
        self._max_keys = max_keys
        self._window_s = window_s
        self._clock = clock
        self._current: set[int] = set()
        self._previous: set[int] = set()
        self._rotated_at = clock()
        # Nothing stored before this instant is known to memory (process start, then each rotation).
        self._covered_since = self._rotated_at
        self._in_flight: dict[int, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def covers(self, ts_s: float) -> bool:
        """True when a call started at ``ts_s`` could only have been stored while memory was watching."""
        return self._alone and ts_s >= self._covered_since + CLOCK_SKEW_S

    def predates(self, ts_s: float) -> bool:
        """True when a call started at ``ts_s`` began before memory was watching: only storage can tell."""
        return ts_s < self._covered_since

    def seed(self, keys: Iterable[int]) -> None:
        self._remember(list(keys))

    def claim(
        self, calls: Sequence[CallKeys], owner: asyncio.Future[None]
    ) -> tuple[list[bool], set[asyncio.Future[None]]]:
        """Mark which calls are new (their keys claimed for ``owner``); return futures of copies in flight."""
        keep: list[bool] = []
        waits: set[asyncio.Future[None]] = set()
        current, previous, in_flight = self._current, self._previous, self._in_flight
        flying = in_flight.keys()
        # Set operations against the whole tuple run in C: this runs for every call the collector takes.
        for lookup, store in calls:
            if not (current.isdisjoint(lookup) and previous.isdisjoint(lookup)):
                keep.append(False)
            elif not flying.isdisjoint(lookup):
                keep.append(False)
                waits.update(in_flight[key] for key in lookup if in_flight.get(key, owner) is not owner)
            else:
                in_flight.update(dict.fromkeys(store, owner))
                keep.append(True)
        return keep, waits

    def settle(self, calls: Iterable[CallKeys], durable: bool) -> None:
        """The batch holding ``calls`` is durable (remember their keys) or failed (forget the claim)."""
        stored = [key for _, store in calls for key in store]
        pop = self._in_flight.pop
        for key in stored:
            pop(key, None)
        if durable:
            self._remember(stored)

    def _remember(self, keys: Sequence[int]) -> None:
        """Add ``keys`` to the current generation, in slices that fit it; a full generation, or one older
        than the window, becomes the previous one first."""
        start = 0
        while start < len(keys):
            room = self._max_keys - len(self._current)
            now = self._clock()
            if room <= 0 or now - self._rotated_at > self._window_s:
                self._covered_since = self._rotated_at  # the dropped generation is no longer known
                self._previous = self._current
                self._current = set()
                self._rotated_at = now
                room = self._max_keys
            self._current.update(keys[start : start + room])
            start += room
