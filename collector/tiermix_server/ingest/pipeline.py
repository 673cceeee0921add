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
  or once every admitted request is waiting in it and its first has waited ``batch_min_delay_s``: OTLP
  clients wait for their answer, so waiting longer cannot grow the batch from them, but other senders'
  requests arrive meanwhile, and each insert has a fixed cost of ~45 ms of ClickHouse's CPU (a part per
  table and rollup) that 50 senders of small requests paid 16 times a second at 5,000 calls/s. Under
  load batches grow to the size of what arrives during one insert (group commit); one insert is in
  flight at a time.
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
import itertools
import logging
import operator
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from tiermix_server.errors import QueueFull, SpoolFull
from tiermix_server.ingest import dedup, parking
from tiermix_server.ingest.merge import Reprice
from tiermix_server.ingest.process import TENANT_INDEX
from tiermix_server.ingest.processed import Processed
from tiermix_server.ingest.recent import RecentKeys
from tiermix_server.ingest.spool import Spool
from tiermix_server.ingest.stats import IngestStats
from tiermix_server.ingest.submission import Parked, Submission, key_rows, stats_rows, submission_batch
from tiermix_server.ingest.write import Batch, CallWriter, Refused, StatsRow

__all__ = ["Pipeline", "PipelineConfig", "QueueFull", "SpoolFull", "key_rows"]

log = logging.getLogger("tiermix.ingest")
_STORE = operator.attrgetter("store")  # a call's store keys (identity.CallKeys)
_MERGEABLE = operator.attrgetter("mergeable")


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    batch_max_rows: int = 50_000
    batch_max_delay_s: float = 0.5
    # With every admitted request waiting in the batch, it still waits this long from its first: other
    # senders' requests join it instead of each paying an insert's fixed cost (docs/performance.md).
    batch_min_delay_s: float = 0.25
    queue_max_requests: int = 256
    queue_max_bytes: int = 256 * 1024**2
    queue_share: float = 0.5  # the most of either bound one sender (``admit(owner=...)``) may hold
    retry_after_s: int = 2
    drain_backoff_s: tuple[float, float] = (0.5, 10.0)
    # How long a call that may have another span on its way waits in the batcher for it (merge.py).
    merge_window_s: float = 1.0


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
        # Keys of calls still pending in the batcher → their submission: a second span of the same call
        # merges into that row instead of being dropped (merge.py). The submission, not a (submission,
        # row) pair per key: no object per key to make, and none for the cycle collector to scan while
        # the batch waits; the row is found when a span meets it (``Submission.row_of``), which is rare.
        self._open: dict[int, Submission] = {}
        self._parked: list[Parked] = []
        self._park_wakeup = asyncio.Event()
        self.storage_up = True
        self.storage_error = ""
        self.queued_requests = 0
        self.decoding_elsewhere = 0  # admitted requests a decode worker holds (``decoding``)
        self.queued_bytes = 0
        self._held: dict[str, tuple[int, int]] = {}  # owner → (requests, bytes) in the queue
        self._pending: list[Submission] = []
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

    @contextlib.contextmanager
    def decoding(self) -> Iterator[None]:
        """Around a request's decode in a worker process: the batcher does not wait for it.

        Waiting for every admitted request packs requests decoded on the event loop into one batch at
        no cost (they arrive within the loop's next turns); a worker's takes tens of milliseconds, and
        under steady load there is always one more on the way, so waiting would hold every batch to
        ``batch_max_delay_s``. Batches still grow with load: whatever arrives during one insert.
        """
        self.decoding_elsewhere += 1
        self._wakeup.set()
        try:
            yield
        finally:
            self.decoding_elsewhere -= 1

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
        await dedup.drop_stored(self, processed)
        merged_into = dedup.merge_into_pending(self, processed)
        waits = dedup.drop_resent(self, processed, future) | merged_into
        if processed.call_count or processed.drops or processed.outcomes:
            submission = Submission(processed, future, time.monotonic())
            submission.keys = processed.keys
            submission.mergeable = any(map(_MERGEABLE, processed.keys))
            self._open.update(
                dict.fromkeys(itertools.chain.from_iterable(map(_STORE, processed.keys)), submission)
            )
            self._pending.append(submission)
            self._pending_rows += processed.call_count
            self._wakeup.set()
            waits.add(future)
        # Shielded: a client hanging up must not cancel a batch other requests wait on too.
        outcomes = await asyncio.gather(*(asyncio.shield(w) for w in waits), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    # -- background work -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self._run_batcher(), name="tiermix-batcher"),
            asyncio.create_task(self._run_drainer(), name="tiermix-drainer"),
            asyncio.create_task(
                parking.run_parking(
                    self,
                ),
                name="tiermix-parking",
            ),
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
        max_delay_s = self.config.batch_max_delay_s
        min_delay_s = min(self.config.batch_min_delay_s, max_delay_s)
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            first_at = self._pending[0].enqueued_at
            deadline, early = first_at + max_delay_s, first_at + min_delay_s
            while self._pending_rows < self.config.batch_max_rows and not self._stopping:
                now = time.monotonic()
                if len(self._pending) < self.queued_requests - self.decoding_elsewhere:
                    until = deadline  # someone else is still on the way, on the event loop
                elif self._small_batch():
                    until = early  # everyone is in it: other senders may still come
                else:
                    break
                if until <= now:
                    break
                self._wakeup.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), until - now)
            await self._commit(self._take_batch())

    def _small_batch(self) -> bool:
        """Worth ``batch_min_delay_s`` to grow: its rows, and the requests its wait holds in the queue,
        are a small share of what a batch and the queue may hold (small requests arriving at 256 a second
        fill a quarter of the default queue within the wait, and then wait no longer)."""
        return (
            self._pending_rows < self.config.batch_max_rows // 5
            and len(self._pending) < self.config.queue_max_requests // 4
        )

    def _take_batch(self) -> list[Submission]:
        taken: list[Submission] = []
        rows = 0
        while self._pending:
            nxt = self._pending[0].processed.call_count
            if taken and rows + nxt > self.config.batch_max_rows:
                break
            taken.append(self._pending.pop(0))
            rows += nxt
        self._pending_rows -= rows
        return taken

    def _close(self, submissions: list[Submission]) -> None:
        """From here on a late span of these calls is a duplicate: nothing merges into them any more."""
        for submission in submissions:
            for keys in submission.keys:
                for key in keys.store:
                    if self._open.get(key) is submission:
                        del self._open[key]

    async def _commit(self, submissions: list[Submission]) -> None:
        token = uuid.uuid4().hex
        drops = [row for s in submissions for row in s.processed.drops]
        minute, own_stats = int(time.time()) // 60 * 60, self._take_own_stats()
        if (
            self.config.merge_window_s > 0
            and self.storage_up
            and not self._stopping
            and any(s.mergeable for s in submissions)
        ):
            # Parked on the event loop first: a span merged while the record is written waits for it.
            deadline = time.monotonic() + self.config.merge_window_s
            parked = Parked(submissions, token, drops, own_stats, minute, deadline)
            for submission in submissions:
                submission.parked = parked
            if await asyncio.to_thread(parking.park, self, parked):
                self._answer(submissions, durable=True)
                self._parked.append(parked)
                self._park_wakeup.set()
                return
            for submission in submissions:
                submission.parked = None
        self._close(submissions)
        batch = submission_batch(submissions, token, drops, stats_rows(submissions, minute) + own_stats)
        durable = await self._make_durable(batch)
        self._answer(submissions, durable)

    def _answer(self, submissions: list[Submission], durable: bool) -> None:
        for submission in submissions:
            self.recent.settle(submission.keys, durable)
            if submission.future.done():
                continue
            if durable:
                submission.future.set_result(None)
            else:
                submission.future.set_exception(SpoolFull("storage is unavailable and the spool is full", 10))

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
        self.stats.count("tiermix_spool_corrupt_records_total")
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
        counts = (
            ("llm_calls", batch.call_count),
            ("sdk_drops", len(batch.drops)),
            ("ingest_stats", len(batch.stats)),
            ("replay_captures", len(batch.captures)),
        )
        for table, rows in counts:
            if rows:
                self.stats.count("tiermix_rows_written_total", rows, table=table)
