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
from tiermix_server.ingest.process import Processed
from tiermix_server.ingest.write import TS_INDEX, Batch, CallRow, DropRow, KeyRow, StatsRow


@dataclass(slots=True)
class Submission:
    processed: Processed
    future: asyncio.Future[None]
    enqueued_at: float
    keys: list[CallKeys] = field(default_factory=list)
    mergeable: bool = False  # holds a call another span may still be merged into
    parked: Parked | None = None  # answered, durable in the spool, its insert waiting (merge window)


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
        calls = [row for s in self.submissions for row in s.processed.calls]
        stats = stats_rows(self.submissions, self.minute) + self.own_stats
        return Batch(self.token, calls, self.drops, stats, submission_key_rows(self.submissions),
                     submission_captures(self.submissions))  # fmt: skip


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
    return [row for s in submissions for row in key_rows(s.processed.calls, s.keys)]


def key_rows(calls: list[CallRow], keys: list[CallKeys]) -> list[KeyRow]:
    """The ``call_keys`` rows of ``calls``: each call's store keys with its start second (for the TTL)."""
    rows: list[KeyRow] = []
    for row, call_keys in zip(calls, keys, strict=True):
        ts_s = row[TS_INDEX] // 1_000_000
        rows.extend((key, ts_s) for key in call_keys.store)
    return rows
