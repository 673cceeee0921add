"""Keys of recently stored calls: catches a call that comes again in a *different* request.

Why this exists next to ClickHouse's block dedup: an insert token makes a replay of the *same batch*
exact (retries, spool drains, crash recovery), but an SDK whose export timed out re-sends its spans in a
new request, and another instrumentation's span of the same call comes in a request of its own; both
land in a new batch with a new token, and the rollups fed by materialized views would count them twice.
So the collector remembers the keys of what it stored (``identity.CallKeys``: tenant-scoped span,
parent and response-id keys) and skips a call whose lookup keys meet one of them.

What memory holds: the keys stored in the last ``window_s``, at most ``max_keys`` of them. Only the
newest few are a Python set (``hot``, ~70 bytes a key); the rest are sealed into sorted ``uint64`` arrays
(8 bytes a key) searched once per request for all its keys together. Why not two generations of sets:
at 500,000 keys each they held ~70 MiB and, at 30,000 calls/s (three keys a call), under 11 s of
traffic, less than the clock-skew margin below, so every request of a busy collector asked ClickHouse
and, with ClickHouse down, calls only seconds old were refused. The same memory now holds ~8x the keys.

What is no longer in memory is in ClickHouse (``call_keys``): ``covers(ts)`` says whether memory alone
can answer for a call that started at ``ts`` (epoch seconds) — only calls that started after the oldest
generation in memory began, less a margin for client clock skew. The pipeline asks ClickHouse about the
others, so a re-send after any downtime is still caught. With several collectors writing one database
(``TIERMIX_REPLICAS=many``) memory covers nothing: every batch is checked against ClickHouse, because
a client's retry may have reached another replica.

A call whose first copy is still in flight (not yet durable) is not acknowledged on the strength of
that copy alone: the second request waits for the first copy's outcome, and fails with it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tiermix_server.ingest.identity import CallKeys

# A client clock this far ahead of the collector's still gets an exact answer (NTP keeps hosts far closer).
CLOCK_SKEW_S = 30.0
# The hot set is sealed at max_keys / HOT_SHARE keys; a sealed generation grows to max_keys / GENERATIONS
# keys or window_s / GENERATIONS seconds, so a handful of arrays are searched and the oldest one dropped
# frees an eighth of the memory at a time.
HOT_SHARE = 64
GENERATIONS = 8


@dataclass
class Generation:
    since: float  # memory has held every key stored since this instant (the previous one's ``until``)
    until: float  # the last key was added then: the generation is dropped once this is window_s old
    keys: npt.NDArray[np.uint64]  # sorted


class RecentKeys:
    def __init__(
        self,
        *,
        max_keys: int = 8_000_000,
        window_s: float = 600.0,
        clock: Callable[[], float] = time.time,
        alone: bool = True,
    ) -> None:
        # alone: this collector is the only one writing the database, so what it did not store lately
        # (memory) nobody did; with replicas behind a balancer a re-send may have gone to another one.
        self._alone = alone
        self._max_keys = max_keys
        self._hot_keys = max(1, max_keys // HOT_SHARE)
        self._generation_keys = max(1, max_keys // GENERATIONS)
        self._window_s = window_s
        self._slice_s = window_s / GENERATIONS
        self._clock = clock
        self._hot: set[int] = set()
        # The hot keys again, as machine words: sealing converts them without a Python int each.
        self._hot_words = array("Q")
        self._hot_since = clock()
        self._sealed: deque[Generation] = deque()
        # Nothing stored before this instant is known to memory (process start, then each expiry).
        self._covered_since = self._hot_since
        self._in_flight: dict[int, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._hot) + sum(len(generation.keys) for generation in self._sealed)

    def covers(self, ts_s: float) -> bool:
        """True when a call started at ``ts_s`` could only have been stored while memory was watching."""
        return self._alone and ts_s >= self._covered_since + CLOCK_SKEW_S

    def covered_seconds(self) -> float:
        """How far back from now memory alone answers for a call's start (0 with replicas)."""
        return max(0.0, self._clock() - self._covered_since - CLOCK_SKEW_S) if self._alone else 0.0

    def predates(self, ts_s: float) -> bool:
        """True when a call started at ``ts_s`` began before memory was watching: only storage can tell."""
        return ts_s < self._covered_since

    def seed(self, keys: Iterable[int]) -> None:
        self._remember(list(keys))

    def snapshot(self) -> tuple[float, list[Generation]]:
        """What memory holds, for the next process (``recent_snapshot.py``): since when it covers, and
        every generation, oldest first, the hot keys as the newest. Claims in flight are not stored."""
        generations = list(self._sealed)
        if self._hot_words:
            hot = np.sort(np.frombuffer(self._hot_words, dtype=np.uint64))
            generations.append(Generation(self._hot_since, self._clock(), hot))
        return self._covered_since, generations

    def restore(self, covered_since: float, generations: Sequence[Generation]) -> None:
        """Take back what an earlier process held, checked to be all that was stored since it covered:
        its generations (sorted keys) go before this process's, and memory covers from its start."""
        self._sealed.extendleft(reversed(generations))
        self._covered_since = min(self._covered_since, covered_since)
        self._expire(self._clock())

    def claim(
        self, calls: Sequence[CallKeys], owner: asyncio.Future[None]
    ) -> tuple[list[bool], set[asyncio.Future[None]]]:
        """Mark which calls are new (their keys claimed for ``owner``); return futures of copies in flight."""
        keep: list[bool] = []
        waits: set[asyncio.Future[None]] = set()
        hot, sealed, in_flight = self._hot, self._sealed_hits(calls), self._in_flight
        flying = in_flight.keys()
        # Set operations against the whole tuple run in C: this runs for every call the collector takes.
        for lookup, store, _, _ in calls:
            if not (hot.isdisjoint(lookup) and sealed.isdisjoint(lookup)):
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
        stored = [key for call in calls for key in call.store]
        pop = self._in_flight.pop
        for key in stored:
            pop(key, None)
        if durable:
            self._remember(stored)

    def _sealed_hits(self, calls: Sequence[CallKeys]) -> frozenset[int]:
        """The lookup keys of ``calls`` found in a sealed generation: every key searched at once."""
        if not self._sealed or not calls:
            return frozenset()
        wanted = np.fromiter(itertools.chain.from_iterable(call.lookup for call in calls), dtype=np.uint64)
        wanted.sort()  # searched in order, each array is walked once through the cache, not at random
        found = np.zeros(wanted.shape, dtype=bool)
        for generation in self._sealed:
            keys = generation.keys
            at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
            found |= keys[at] == wanted
        return frozenset(wanted[found].tolist()) if found.any() else frozenset()

    def _remember(self, keys: Sequence[int]) -> None:
        """Add ``keys`` to the hot set, in slices that fit it; a full hot set, or one older than a slice of
        the window, is sealed; then generations past the window or the key budget are dropped."""
        now = self._clock()
        start = 0
        while True:
            room = self._hot_keys - len(self._hot)
            piece = keys[start : start + room]
            self._hot.update(piece)
            self._hot_words.extend(piece)
            start += room
            if len(self._hot) >= self._hot_keys or (self._hot and now - self._hot_since >= self._slice_s):
                self._seal(now)
            if start >= len(keys):
                break
        self._expire(now)

    def _seal(self, now: float) -> None:
        sealed = np.frombuffer(self._hot_words, dtype=np.uint64).copy()
        sealed.sort()  # a key stored twice stays twice: harmless to a search
        newest = self._sealed[-1] if self._sealed else None
        if (
            newest is not None
            and len(newest.keys) + len(sealed) <= self._generation_keys
            and now - newest.since < self._slice_s
        ):
            # Two sorted runs: the stable sort (timsort for uint64) merges them in one linear pass.
            newest.keys = np.sort(np.concatenate((newest.keys, sealed)), kind="stable")
            newest.until = now
        else:
            self._sealed.append(Generation(self._hot_since, now, sealed))
        self._hot = set()
        self._hot_words = array("Q")
        self._hot_since = now

    def _expire(self, now: float) -> None:
        sealed = self._sealed
        while sealed and (len(self) > self._max_keys or now - sealed[0].until > self._window_s):
            dropped = sealed.popleft()
            self._covered_since = dropped.until  # what it held is no longer known
