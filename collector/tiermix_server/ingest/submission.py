"""What the pipeline keeps per request on its way to storage, and the rows it leaves in ``call_keys``.

``Submission``: one request's processed calls, waiting in the batcher (its answer not sent yet), or in a
``Parked`` batch: spooled and answered, its insert waiting for the merge window (``parking.py``).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tiermix_server.ingest.capture import CaptureRow
from tiermix_server.ingest.identity import CallKeys
from tiermix_server.ingest.processed import Processed
from tiermix_server.ingest.write import TS_INDEX, Batch, CallRow, DropRow, KeyRow, StatsRow


@dataclass(slots=True)
class Submission:
    processed: Processed
    future: asyncio.Future[None]
    enqueued_at: float
    keys: list[CallKeys] = field(default_factory=list)
    mergeable: bool = False  # holds a call another span may still be merged into
    parked: Parked | None = None  # answered, durable in the spool, its insert waiting (merge window)
    # A store key → the index of its call, built at the first span merged into one of these calls.
    _rows_by_key: dict[int, int] | None = None

    def row_of(self, key: int) -> int:
        """The index of the call whose store keys hold ``key``."""
        return self._index()[key]

    def add_keys(self, index: int, keys: tuple[int, ...]) -> None:
        """Call ``index`` is known by ``keys`` too (another span was merged into it)."""
        self._index().update(dict.fromkeys(keys, index))

    def _index(self) -> dict[int, int]:
        if self._rows_by_key is None:
            self._rows_by_key = {k: index for index, keys in enumerate(self.keys) for k in keys.store}
        return self._rows_by_key


@dataclass(eq=False)
class Parked:
    """A batch answered once spooled, whose insert waits ``merge_window_s`` for spans of its calls."""

    submissions: list[Submission]
    token: str
    drops: list[DropRow]
    own_stats: list[StatsRow]  # the collector's own counts taken with the batch; the rest are its requests'
    minute: int  # the stats rows' bucket, fixed at parking: a re-spool writes the same rows but merged
    deadline: float
    path: Path | None = None
    closing: bool = False
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The re-spool that merges made since the last one started wait for, and the task writing them
    # (``parking.durable_after_merge``); both touched on the event loop only.
    respool_next: asyncio.Future[None] | None = None
    respooler: asyncio.Future[None] | None = None

    def batch(self) -> Batch:
        """The batch as its rows are now (merges change them); the token stays: replays stay exact."""
        stats = stats_rows(self.submissions, self.minute) + self.own_stats
        return submission_batch(self.submissions, self.token, self.drops, stats)


def submission_batch(
    submissions: list[Submission], token: str, drops: list[DropRow], stats: list[StatsRow]
) -> Batch:
    """The batch of ``submissions``: rows a decode worker packed stay packed (``processed.py``)."""
    calls: list[CallRow] = []
    packed: list[bytes] = []
    packed_count = 0
    for submission in submissions:
        processed = submission.processed
        part = processed.packed_calls
        if part is None:
            calls.extend(processed.calls)
        elif processed.call_count:
            packed.append(part)
            packed_count += processed.call_count
    keys, captures = submission_key_rows(submissions), submission_captures(submissions)
    return Batch(token, calls, drops, stats, keys, captures, packed, packed_count)


def keep_only(processed: Processed, keep: list[bool]) -> None:
    processed.calls = [row for row, kept in zip(processed.calls, keep, strict=True) if kept]
    processed.keys = [keys for keys, kept in zip(processed.keys, keep, strict=True) if kept]
    processed.scopes = [scope for scope, kept in zip(processed.scopes, keep, strict=True) if kept]
    processed.captures = [row for row, kept in zip(processed.captures, keep, strict=True) if kept]


def stats_rows(submissions: list[Submission], minute: int) -> list[StatsRow]:
    """The ``ingest_stats`` rows of ``submissions``: their outcome counts, as they are now."""
    totals: Counter[tuple[str, str, str]] = Counter()
    for submission in submissions:
        totals.update(submission.processed.outcomes)
    return [(minute, tenant, outcome, reason, n) for (tenant, outcome, reason), n in totals.items() if n > 0]


def submission_captures(submissions: list[Submission]) -> list[CaptureRow]:
    return [row for s in submissions for row in s.processed.captures if row is not None]


def submission_key_rows(submissions: list[Submission]) -> list[KeyRow]:
    return [row for s in submissions for row in _key_rows(s.processed.starts(), s.keys)]


def key_rows(calls: list[CallRow], keys: list[CallKeys]) -> list[KeyRow]:
    """The ``call_keys`` rows of ``calls``: each call's store keys with its start second (for the TTL)."""
    return _key_rows([row[TS_INDEX] for row in calls], keys)


def _key_rows(starts_us: list[int], keys: list[CallKeys]) -> list[KeyRow]:
    rows: list[KeyRow] = []
    for start_us, call_keys in zip(starts_us, keys, strict=True):
        ts_s = start_us // 1_000_000
        rows.extend((key, ts_s) for key in call_keys.store)
    return rows
