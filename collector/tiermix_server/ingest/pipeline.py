"""receiver → bounded queue → batcher → writer, with the spool as the fallback for durability.

Invariants:
- A request is acknowledged only once its rows are durable. Every batch is first appended and
  fsync'ed to the spool (write-ahead), then inserted, then its record is removed; the request is
  answered after the insert, or — when ClickHouse fails — as soon as the record is safe. A crash at
  any point leaves each acknowledged batch in ClickHouse or in the spool, and a batch whose insert
  was cut short is replayed under its first token. ``submit`` raises ``SpoolFull`` (503) when neither
  is possible.
- The queue is bounded by requests and by bytes (``admit``), and so is each sender's share of it
  (``queue_share``: an API key, or a client address without keys): past either bound new requests get
  429 with Retry-After, before their bodies are decoded, and one sender can never fill the queue for
  the others. Room is reserved for the bytes actually received, never for a claimed length. With
  ClickHouse down and the spool at its disk budget, new requests get 503 with Retry-After.
- The batcher closes a batch at ``batch_max_rows``, at ``batch_max_delay_s`` after its first request,
  or as soon as every admitted request is waiting in it: OTLP clients wait for their answer, so when
  nobody else is on the way, waiting longer only adds latency and cannot grow the batch. Under load
  batches grow to the size of what arrives during one insert (group commit); one insert is in flight
  at a time.
- While ClickHouse is down, batches go straight to the spool; a drainer re-inserts spooled batches
  oldest first (same dedup token as their first try) when it comes back, and on start-up.
- Counted once: see ``write.py`` (same batch replayed), ``identity.py`` (one call, several spans) and
  ``recent.py`` (a call that comes again). A call older than what memory covers is checked against
  ``call_keys`` in ClickHouse before it is accepted; while ClickHouse cannot answer, such requests get
  503 + Retry-After rather than a guess.
- Parking (``merge.py``): a batch holding a call that another span may still join (it has a parent span
  or a response id) is spooled (fsync) and its requests are answered at once, but its insert waits
  ``merge_window_s``; a span of one of its calls arriving meanwhile is merged into the row and the
  record is written again before that span's request is answered. Exporters never wait for the window.
- Poison never blocks the queue: a batch ClickHouse refuses while it is otherwise healthy is split
  (``write.py``), the rows it refuses alone are kept aside in the spool's ``refused/`` folder and
  counted, and the rest is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiermix_server.errors import Overloaded
from tiermix_server.ingest.identity import CallKeys
from tiermix_server.ingest.merge import Reprice, merge_rows
from tiermix_server.ingest.process import ACCEPTED, SKIPPED, TENANT_INDEX, Processed
from tiermix_server.ingest.recent import RecentKeys
from tiermix_server.ingest.spool import Spool
from tiermix_server.ingest.stats import IngestStats
from tiermix_server.ingest.write import (
    SPAN_ID_INDEX,
    TS_INDEX,
    Batch,
    CallRow,
    CallWriter,
    DropRow,
    KeyRow,
    Refused,
    StatsRow,
)

log = logging.getLogger("tiermix.ingest")


class SpoolFull(Overloaded):
    """ClickHouse is down and the spool is at its disk budget: nothing more can be made durable (503)."""

    code = "storage_unavailable"


class DedupUnavailable(Overloaded):
    """A call older than memory covers cannot be checked against storage now: retry later (503)."""

    code = "storage_unavailable"


class QueueFull(Overloaded):
    """Too many requests waiting to become durable: the client should slow down (429)."""

    http_status = 429
    code = "queue_full"


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    batch_max_rows: int = 50_000
    batch_max_delay_s: float = 0.5
    queue_max_requests: int = 256
    queue_max_bytes: int = 256 * 1024**2
    queue_share: float = 0.5  # the most of either bound one sender (``admit(owner=...)``) may hold
    retry_after_s: int = 2
    drain_backoff_s: tuple[float, float] = (0.5, 10.0)
    # How long a call that may have another span on its way waits in the batcher for it (merge.py).
    merge_window_s: float = 1.0


@dataclass(slots=True)
class _Submission:
    processed: Processed
    future: asyncio.Future[None]
    enqueued_at: float
    keys: list[CallKeys] = field(default_factory=list)
    mergeable: bool = False  # holds a call another span may still be merged into
    parked: _Parked | None = None  # answered, durable in the spool, its insert waiting (merge window)


@dataclass(eq=False)
class _Parked:
    """A batch answered once spooled, whose insert waits ``merge_window_s`` for spans of its calls."""

    submissions: list[_Submission]
    token: str
    drops: list[DropRow]
    stats: list[StatsRow]
    deadline: float
    path: Path | None = None
    closing: bool = False
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def batch(self) -> Batch:
        """The batch as its rows are now (merges change them); the token stays: replays stay exact."""
        calls = [row for s in self.submissions for row in s.processed.calls]
        return Batch(self.token, calls, self.drops, self.stats, _key_rows(self.submissions))


class Pipeline:
    def __init__(
        self,
        *,
        writer: CallWriter,
        spool: Spool,
        stats: IngestStats,
        recent: RecentKeys,
        config: PipelineConfig,
        reprice: Reprice | None = None,
    ) -> None:
        self.writer, self.spool, self.stats, self.recent, self.config = writer, spool, stats, recent, config
        self._reprice: Reprice = reprice or (lambda _fields: None)
        # Keys of calls still pending in the batcher → (submission, row index): a second span of the same
        # call merges into that row instead of being dropped (merge.py).
        self._open: dict[int, tuple[_Submission, int]] = {}
        self._parked: list[_Parked] = []
        self._park_wakeup = asyncio.Event()
        self.storage_up = True
        self.storage_error = ""
        self.queued_requests = 0
        self.queued_bytes = 0
        self._held: dict[str, tuple[int, int]] = {}  # owner → (requests, bytes) in the queue
        self._pending: list[_Submission] = []
        self._pending_rows = 0
        self._wakeup = asyncio.Event()
        self._drain_wakeup = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        stats.gauge("tiermix_queue_requests", "requests not yet durable", lambda: self.queued_requests)
        stats.gauge("tiermix_queue_bytes", "bytes of requests not yet durable", lambda: self.queued_bytes)
        stats.gauge(
            "tiermix_spool_bytes", "bytes of acknowledged batches in the spool", lambda: spool.size_bytes
        )
        stats.gauge("tiermix_storage_up", "1 while ClickHouse writes succeed", lambda: self.storage_up)
        stats.gauge(
            "tiermix_spool_corrupt_records_total",
            "spool records that failed their checksum (moved to spool/corrupt)",
            lambda: spool.corrupt_records,
        )
        # Counts about the collector itself (corrupt records, refused rows, refused requests), written
        # with the next batch, or by the drainer when no batch comes.
        self._own_stats: Counter[tuple[int, str, str, str]] = Counter()
        spool.on_corrupt = self._note_corrupt
        for _ in range(spool.corrupt_records):  # found while the spool was read at start-up
            self._note_corrupt("")

    # -- admission -----------------------------------------------------------------------------------
    def admit(self, nbytes: int, owner: str = "") -> None:
        """Reserve queue room for a request of ``nbytes`` from ``owner``; raises 429/503 when there is
        none, or when ``owner`` already holds its share (``queue_share``) of the queue."""
        config = self.config
        if not self.storage_up and not self.spool.has_room(nbytes):
            raise SpoolFull("storage is unavailable and the spool is at its disk budget", 10)
        if self.queued_requests >= config.queue_max_requests or (
            self.queued_requests and self.queued_bytes + nbytes > config.queue_max_bytes
        ):
            raise QueueFull("the ingest queue is full", config.retry_after_s)
        held_requests, held_bytes = self._held.get(owner, (0, 0))
        if held_requests and (
            held_requests + 1 > max(1, int(config.queue_max_requests * config.queue_share))
            or held_bytes + nbytes > config.queue_max_bytes * config.queue_share
        ):
            self.stats.count("tiermix_queue_share_refusals_total")
            raise QueueFull("this sender holds its share of the ingest queue", config.retry_after_s)
        self._held[owner] = (held_requests + 1, held_bytes + nbytes)
        self.queued_requests += 1
        self.queued_bytes += nbytes

    def release(self, nbytes: int, owner: str = "") -> None:
        self.queued_requests -= 1
        self.queued_bytes -= nbytes
        held_requests, held_bytes = self._held.get(owner, (1, nbytes))
        if held_requests <= 1:
            self._held.pop(owner, None)
        else:
            self._held[owner] = (held_requests - 1, held_bytes - nbytes)
        self._wakeup.set()  # the batcher may be waiting for this request

    def readiness(self) -> tuple[bool, str]:
        if not self.storage_up:
            return False, f"storage unavailable, spooling ({self.storage_error})"
        if self.queued_requests >= self.config.queue_max_requests * 0.9:
            return False, "ingest queue nearly full"
        return True, "ok"

    # -- submission ----------------------------------------------------------------------------------
    async def submit(self, processed: Processed) -> None:
        """Return once ``processed`` is durable; raise ``SpoolFull`` if it cannot be made so."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        await self._drop_stored(processed)
        merged_into = self._merge_into_pending(processed)
        waits = self._drop_resent(processed, future) | merged_into
        if processed.calls or processed.drops or processed.outcomes:
            submission = _Submission(processed, future, time.monotonic())
            submission.keys = processed.keys
            submission.mergeable = any(keys.mergeable for keys in processed.keys)
            for index, keys in enumerate(processed.keys):
                for key in keys.store:
                    self._open[key] = (submission, index)
            self._pending.append(submission)
            self._pending_rows += len(processed.calls)
            self._wakeup.set()
            waits.add(future)
        # Shielded: a client hanging up must not cancel a batch other requests wait on too.
        outcomes = await asyncio.gather(*(asyncio.shield(w) for w in waits), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _drop_stored(self, processed: Processed) -> None:
        """Skip calls that ClickHouse already holds, for the calls memory cannot answer for."""
        covers = self.recent.covers
        old = [i for i, row in enumerate(processed.calls) if not covers(row[TS_INDEX] / 1e6)]
        if not old:
            return
        lookup = [key for i in old for key in processed.keys[i].lookup]
        try:
            if not self.storage_up:
                raise ConnectionError(self.storage_error or "storage is down")
            found = await asyncio.to_thread(self.writer.known_keys, lookup)
        except Exception as exc:
            log.warning("cannot check calls for duplicates in storage: %s", str(exc).splitlines()[:1])
            # Calls that started before this process cannot be told from a copy stored back then: refuse
            # them for now (the client retries). Calls within the clock-skew margin are taken unchecked.
            if any(self.recent.predates(processed.calls[i][TS_INDEX] / 1e6) for i in old):
                raise DedupUnavailable(
                    "storage is unavailable, and these calls are older than what the collector can check "
                    "for duplicates without it",
                    self.config.retry_after_s,
                ) from None
            return
        if found:
            stored = {i for i in old if not found.isdisjoint(processed.keys[i].lookup)}
            self._skip(processed, [i not in stored for i in range(len(processed.calls))])

    def _merge_into_pending(self, processed: Processed) -> set[asyncio.Future[None]]:
        """Merge calls whose keys meet a call still pending in the batcher; returns their futures."""
        if not self._open or not processed.calls:
            return set()
        open_rows = self._open
        keep: list[bool] = []
        waits: set[asyncio.Future[None]] = set()
        respool: set[_Parked] = set()
        for index, keys in enumerate(processed.keys):
            target = next((open_rows[key] for key in keys.lookup if key in open_rows), None)
            if target is None:
                keep.append(True)
                continue
            submission, row_index = target
            pending = submission.processed
            row, scope = processed.calls[index], processed.scopes[index]
            resent = row[SPAN_ID_INDEX] == pending.calls[row_index][SPAN_ID_INDEX]
            if not resent:
                pending.calls[row_index], pending.scopes[row_index] = merge_rows(
                    pending.calls[row_index], pending.scopes[row_index], row, scope, self._reprice
                )
                old = pending.keys[row_index]
                pending.keys[row_index] = CallKeys(
                    tuple(dict.fromkeys(old.lookup + keys.lookup)),
                    tuple(dict.fromkeys(old.store + keys.store)),
                )
                for key in keys.store:
                    open_rows[key] = target
                if submission.parked is not None:
                    respool.add(submission.parked)
            keep.append(False)
            waits.add(submission.future)  # answered once the merged row is durable
            self._skip_one(processed, row, "duplicate" if resent else "same_call")
        if not all(keep):
            _keep_only(processed, keep)
        for parked in respool:
            waits.add(asyncio.ensure_future(asyncio.to_thread(self._respool, parked)))
        return waits

    def _drop_resent(self, processed: Processed, owner: asyncio.Future[None]) -> set[asyncio.Future[None]]:
        if not processed.calls:
            return set()
        keep, waits = self.recent.claim(processed.keys, owner)
        if not all(keep):
            self._skip(processed, keep)
        return waits

    @classmethod
    def _skip(cls, processed: Processed, keep: list[bool]) -> None:
        """Drop the calls not kept, counting each as a duplicate."""
        for row, new in zip(processed.calls, keep, strict=True):
            if not new:
                cls._skip_one(processed, row, "duplicate")
        _keep_only(processed, keep)

    @staticmethod
    def _skip_one(processed: Processed, row: CallRow, reason: str) -> None:
        tenant = row[TENANT_INDEX]
        processed.outcomes[(tenant, ACCEPTED, "")] -= 1
        processed.outcomes[(tenant, SKIPPED, reason)] += 1

    # -- background work -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._run_batcher(), name="tiermix-batcher"),
            asyncio.create_task(self._run_drainer(), name="tiermix-drainer"),
            asyncio.create_task(self._run_parking(), name="tiermix-parking"),
        ]

    async def stop(self) -> None:
        """Flush what is pending (insert or spool), then stop; nothing acknowledged is left behind."""
        self._stopping = True
        self._wakeup.set()
        self._drain_wakeup.set()
        self._park_wakeup.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run_batcher(self) -> None:
        delay_s = self.config.batch_max_delay_s
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            deadline = self._pending[0].enqueued_at + delay_s
            while (
                self._pending_rows < self.config.batch_max_rows
                and len(self._pending) < self.queued_requests  # someone else is still on the way
                and not self._stopping
            ):
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0:
                    break
                self._wakeup.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), remaining_s)
            await self._commit(self._take_batch())

    def _take_batch(self) -> list[_Submission]:
        taken: list[_Submission] = []
        rows = 0
        while self._pending:
            nxt = len(self._pending[0].processed.calls)
            if taken and rows + nxt > self.config.batch_max_rows:
                break
            taken.append(self._pending.pop(0))
            rows += nxt
        self._pending_rows -= rows
        return taken

    def _close(self, submissions: list[_Submission]) -> None:
        """From here on a late span of these calls is a duplicate: nothing merges into them any more."""
        for submission in submissions:
            for keys in submission.keys:
                for key in keys.store:
                    if self._open.get(key, (None,))[0] is submission:
                        del self._open[key]

    async def _commit(self, submissions: list[_Submission]) -> None:
        token = uuid.uuid4().hex
        drops = [row for s in submissions for row in s.processed.drops]
        stats = _stats_rows(submissions) + self._take_own_stats()
        if (
            self.config.merge_window_s > 0
            and self.storage_up
            and not self._stopping
            and any(s.mergeable for s in submissions)
        ):
            # Parked on the event loop first: a span merged while the record is written waits for it.
            parked = _Parked(submissions, token, drops, stats, time.monotonic() + self.config.merge_window_s)
            for submission in submissions:
                submission.parked = parked
            if await asyncio.to_thread(self._park, parked):
                self._answer(submissions, durable=True)
                self._parked.append(parked)
                self._park_wakeup.set()
                return
            for submission in submissions:
                submission.parked = None
        self._close(submissions)
        batch = Batch(token, [row for s in submissions for row in s.processed.calls], drops, stats,
                      _key_rows(submissions))  # fmt: skip
        durable = await self._make_durable(batch)
        self._answer(submissions, durable)

    def _answer(self, submissions: list[_Submission], durable: bool) -> None:
        for submission in submissions:
            self.recent.settle(submission.keys, durable)
            if submission.future.done():
                continue
            if durable:
                submission.future.set_result(None)
            else:
                submission.future.set_exception(SpoolFull("storage is unavailable and the spool is full", 10))

    # -- parking: calls another span may still join wait, durable in the spool, already answered -------
    def _park(self, parked: _Parked) -> bool:
        """Spool the batch (held) so its requests can be answered now; False when the spool cannot."""
        with parked.lock:
            batch = parked.batch()
            record = self.spool.encode(batch)
            if not self.spool.has_room(len(record)):
                return False
            try:
                parked.path = self.spool.append(batch, record, held=True)
            except OSError:
                log.exception("cannot write the spool")
                return False
        self.stats.count("tiermix_parked_batches_total")
        return True

    def _respool(self, parked: _Parked) -> None:
        """A span was merged into a parked call: make the merged row durable before answering its request."""
        with parked.lock:
            if parked.closing or parked.done or parked.path is None:
                # Inserted (or about to be) with the merge already in its rows, or never parked: the
                # batch is then written by the normal path, which reads the rows after the merge too.
                return
            old = parked.path
            try:
                parked.path = self.spool.append(parked.batch(), held=True)
            except OSError:
                raise SpoolFull(
                    "cannot make the merged call durable: the spool cannot be written", 10
                ) from None
            self.spool.remove(old)

    def _insert_parked(self, parked: _Parked) -> None:
        with parked.lock:
            batch = parked.batch()
            try:
                if not self.storage_up:
                    raise ConnectionError(self.storage_error or "storage is down")
                refused = self.writer.write(batch)
            except Exception as exc:
                self._mark_down(exc)
                if parked.path is not None:
                    self.spool.release(parked.path)  # the drainer inserts it under the same token
                    self.stats.count("tiermix_spooled_batches_total")
                    if self._loop is not None:
                        self._loop.call_soon_threadsafe(self._drain_wakeup.set)
            else:
                self._set_aside(refused)
                self._count_written(batch)
                if parked.path is not None:
                    self.spool.remove(parked.path)
            parked.done = True

    async def _run_parking(self) -> None:
        while True:
            now = time.monotonic()
            due = [p for p in self._parked if p.deadline <= now or self._stopping]
            for parked in due:
                self._parked.remove(parked)
                parked.closing = True  # on the event loop, like every merge: none can come after this
                self._close(parked.submissions)
                try:
                    await asyncio.to_thread(self._insert_parked, parked)
                except Exception:  # a bug here must not strand the others: this one is in the spool
                    log.exception("inserting a parked batch failed; its spool record is drained later")
                    if parked.path is not None:
                        self.spool.release(parked.path)
            if self._stopping and not self._parked and not self._pending:
                return
            next_deadline = min((p.deadline for p in self._parked), default=None)
            self._park_wakeup.clear()
            timeout = None if next_deadline is None else max(0.0, next_deadline - time.monotonic())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._park_wakeup.wait(), 0.5 if timeout is None else timeout)

    async def _make_durable(self, batch: Batch) -> bool:
        return await asyncio.to_thread(self._write_ahead_and_insert, batch)

    def _write_ahead_and_insert(self, batch: Batch) -> bool:
        """Spool the batch (fsync), insert it, then drop the record; runs in a worker thread.

        Writing ahead even while ClickHouse is healthy is what makes a crash *during* an insert safe:
        ClickHouse may have committed the block to ``llm_calls`` but not yet to every rollup, and only
        a replay under the same token completes it exactly once (ClickHouse docs, "materialized views").
        """
        record = self.spool.encode(batch)
        path = None
        if self.spool.has_room(len(record)):
            try:
                path = self.spool.append(batch, record, held=True)
            except OSError:
                log.exception("cannot write the spool")
        if self.storage_up:
            try:
                refused = self.writer.write(batch)
            except Exception as exc:
                self._mark_down(exc)
            else:
                self._set_aside(refused)
                self._count_written(batch)
                if path is not None:
                    self.spool.remove(path)
                return True
        if path is None:
            log.error("spool full (%d bytes) and storage down: answering 503", self.spool.size_bytes)
            return False
        self.spool.release(path)
        self.stats.count("tiermix_spooled_batches_total")
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._drain_wakeup.set)
        return True

    async def _run_drainer(self) -> None:
        backoff_s, max_backoff_s = self.config.drain_backoff_s
        delay_s = backoff_s
        while not self._stopping:
            try:
                drained = await asyncio.to_thread(self._drain_once)
            except Exception as exc:
                self._mark_down(exc)
                drained = False
            if drained:
                delay_s = backoff_s
                continue
            self._drain_wakeup.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._drain_wakeup.wait(), delay_s)
            delay_s = min(delay_s * 2, max_backoff_s) if not self.storage_up else backoff_s

    def _drain_once(self) -> bool:
        """Insert the oldest spooled batch; True if one was drained. Probes storage when nothing is."""
        records = self.spool.records()
        if not records:
            if not self.storage_up:
                self.writer.ping()
                self._mark_up()
            if self._own_stats and self.storage_up and not self._pending:
                self.writer.write(Batch(uuid.uuid4().hex, [], [], self._take_own_stats(), []))
            return False
        batch = self.spool.read(records[0])
        if batch is not None:
            # Same token as its first try: a partial earlier insert completes, a full one is skipped.
            refused = self.writer.write(batch)
            self._set_aside(refused)
            self._count_written(batch)
            self.spool.remove(records[0])
        self._mark_up()
        return True

    def _mark_down(self, exc: Exception) -> None:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        if self.storage_up:
            log.warning("ClickHouse write failed, spooling until it recovers: %s", first_line)
        self.stats.count("tiermix_insert_failures_total")
        self.storage_up = False
        self.storage_error = first_line

    def _mark_up(self) -> None:
        if not self.storage_up:
            log.info("ClickHouse writes recovered")
        self.storage_up = True
        self.storage_error = ""

    def note(self, tenant: str, outcome: str, reason: str, n: int = 1) -> None:
        """Count an outcome that is not a span of a request (written to ``ingest_stats`` soon)."""
        self._own_stats[(int(time.time()) // 60 * 60, tenant, outcome, reason)] += n

    def note_refused_request(self, status: int) -> None:
        """A whole export request refused (401, 403, 413, 429, 503, ...): its sender may give up."""
        self.note("", "refused_request", f"http_{status}")

    def _take_own_stats(self) -> list[StatsRow]:
        own, self._own_stats = self._own_stats, Counter()
        return [(minute, tenant, outcome, reason, n) for (minute, tenant, outcome, reason), n in own.items()]

    def _note_corrupt(self, _name: str) -> None:
        self.note("", "lost", "spool_corrupt_record")
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._drain_wakeup.set)

    def _set_aside(self, refused: list[Refused] | None) -> None:
        """Rows ClickHouse refused on their own: kept in ``refused/`` for a person, and counted."""
        if not refused:
            return
        by_tenant: Counter[str] = Counter()
        for item in refused:
            self.stats.count("tiermix_rows_refused_total", len(item.rows), table=item.table)
            if item.table == "llm_calls":
                by_tenant.update(row[TENANT_INDEX] for row in item.rows)
            log.error(
                "ClickHouse refused %d %s row(s) on their own, kept in %s: %s",
                len(item.rows),
                item.table,
                self.spool.keep_refused(item),
                item.error,
            )
        for tenant, n in by_tenant.items():
            self.note(tenant, "refused", "storage_refused", n)

    def _count_written(self, batch: Batch) -> None:
        tables = (("llm_calls", batch.calls), ("sdk_drops", batch.drops), ("ingest_stats", batch.stats))
        for table, rows in tables:
            if rows:
                self.stats.count("tiermix_rows_written_total", len(rows), table=table)


def _keep_only(processed: Processed, keep: list[bool]) -> None:
    processed.calls = [row for row, kept in zip(processed.calls, keep, strict=True) if kept]
    processed.keys = [keys for keys, kept in zip(processed.keys, keep, strict=True) if kept]
    processed.scopes = [scope for scope, kept in zip(processed.scopes, keep, strict=True) if kept]


def _key_rows(submissions: list[_Submission]) -> list[KeyRow]:
    return [row for s in submissions for row in key_rows(s.processed.calls, s.keys)]


def key_rows(calls: list[CallRow], keys: list[CallKeys]) -> list[KeyRow]:
    """The ``call_keys`` rows of ``calls``: each call's store keys with its start second (for the TTL)."""
    rows: list[KeyRow] = []
    for row, call_keys in zip(calls, keys, strict=True):
        ts_s = row[TS_INDEX] // 1_000_000
        rows.extend((key, ts_s) for key in call_keys.store)
    return rows


def _stats_rows(submissions: list[_Submission]) -> list[StatsRow]:
    minute = int(time.time()) // 60 * 60
    totals: Counter[tuple[str, str, str]] = Counter()
    for submission in submissions:
        totals.update(submission.processed.outcomes)
    return [(minute, tenant, outcome, reason, n) for (tenant, outcome, reason), n in totals.items() if n > 0]


async def start_pipeline(runtime: Any, stack: contextlib.AsyncExitStack) -> None:
    """Build the pipeline for ``runtime`` (fills ``runtime.pipeline`` and ``runtime.stats``)."""
    from tiermix_server.ingest.wiring import build_pipeline

    pipeline = await asyncio.to_thread(build_pipeline, runtime)
    await pipeline.start()
    stack.push_async_callback(pipeline.stop)
    runtime.pipeline = pipeline
    runtime.stats = pipeline.stats
