"""The export worker: one daemon thread that batches, encodes, sends, retries, spools and reports.

Modelled on OpenTelemetry's ``BatchSpanProcessor``: a bounded deque filled by the application, a
thread that wakes on a timer or early when a batch is full, flush and shutdown with a timeout. The
application thread never waits for it. While the collector is unreachable a batch is retried with
backoff (honouring ``Retry-After``) for at most ``retry_window_s``, then dropped and counted -- or,
with a spool, written to disk at once and resent when the collector answers again.
"""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .._config import Settings
from .._log import internal_error, warn_once
from .._record import Record
from .drops import DropCounter, DropReport
from .spool import Spool
from .transport import Outcome, Transport

Mirror = Callable[[list[Record]], None]


def _encode_module() -> Any:
    # protobuf costs ~40 ms to import: load it on the worker thread at the first export, never
    # during ``import tiermix`` on the application's start-up path.
    from . import encode

    return encode


class Worker:
    def __init__(
        self,
        queue: deque[Record],
        settings: Settings,
        drops: DropCounter,
        transport: Transport,
        spool: Spool | None,
        mirror: Mirror | None = None,
        clock: Callable[[], float] = time.monotonic,
        appended: Iterator[int] | None = None,
    ) -> None:
        self._queue = queue
        self._appended = appended  # ticked once per append by the application threads
        self._counter_reads = 0  # our own ticks of ``appended``
        self._popped = 0
        self._evicted = 0
        self._settings = settings
        self._drops = drops
        self._transport = transport
        self._spool = spool
        self._mirror = mirror
        self._clock = clock
        self._resource: Any = None  # built with the encoder, on the worker thread
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._done = threading.Condition()
        self._flush_requested = 0
        self._flush_done = 0
        self._down_until = 0.0  # collector considered unreachable until this clock time
        self._failures = 0
        self._thread: threading.Thread | None = None
        self.exported_calls = 0  # delivered call spans, for tests and the benchmark

    # -- control, called from application threads --------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tiermix-export", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def flush(self, timeout_s: float) -> bool:
        """Export everything queued so far; ``False`` if that did not finish within ``timeout_s``."""
        if self._thread is None or not self._thread.is_alive():
            return not self._queue
        with self._done:
            self._flush_requested += 1
            wanted = self._flush_requested
            self._wake.set()
            return self._done.wait_for(lambda: self._flush_done >= wanted, timeout_s)

    def shutdown(self, timeout_s: float) -> bool:
        thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    # -- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._settings.export_interval_s)
            self._wake.clear()
            self._cycle()
        self._cycle(final=True)
        self._transport.close()

    def _cycle(self, final: bool = False) -> None:
        with self._done:
            wanted = self._flush_requested
        try:
            self._resend_spool(final)
            batch_size = self._settings.batch_size
            while self._queue:
                batch: list[Record] = []
                popleft = self._queue.popleft
                try:
                    while len(batch) < batch_size:
                        batch.append(popleft())
                except IndexError:
                    pass
                self._popped += len(batch)
                self._export(batch, final)
            self._count_evictions()
            self._report_drops(final)
        except Exception:
            internal_error("export worker")
        with self._done:
            self._flush_done = max(self._flush_done, wanted)
            self._done.notify_all()

    def _count_evictions(self) -> None:
        """Count as ``queue_full`` the calls the full deque evicted when app threads raced its cap.

        appended - popped - still queued = evicted. Reading the counter before the queue length
        can only under-count for a moment (an append between the two reads), never over-count, and
        the next cycle catches up, so the total is exact.
        """
        if self._appended is None:
            return
        appended = next(self._appended) - self._counter_reads
        self._counter_reads += 1
        evicted = appended - self._popped - len(self._queue)
        if evicted > self._evicted:
            self._drops.add("queue_full", evicted - self._evicted)
            self._evicted = evicted

    def _export(self, batch: list[Record], final: bool) -> None:
        try:
            body = gzip.compress(self._encode(batch).SerializeToString(), 6)
        except Exception:
            internal_error("encode")
            self._drops.add("encode_error", len(batch))
            return
        if self._mirror is not None:
            try:
                self._mirror(batch)
            except Exception:
                internal_error("tracer_provider mirror")
        if self._deliver(body, final):
            self.exported_calls += len(batch)
            return
        if self._spool is not None:
            if self._spool_write(body):
                return
            self._drops.add("spool_full", len(batch))
        else:
            self._drops.add("export_failed", len(batch))

    def _encode(self, batch: Sequence[Record], reports: Sequence[DropReport] = ()) -> Any:
        encode = _encode_module()
        if self._resource is None:
            self._resource = encode.resource_for(self._settings)
        return encode.encode(batch, self._settings, self._resource, reports)

    def _spool_write(self, body: bytes) -> bool:
        assert self._spool is not None
        try:
            return self._spool.write(body)
        except OSError as exc:
            warn_once("spool-write", "tiermix: cannot write spool %s: %s", self._spool.directory, exc)
            return False

    def _deliver(self, body: bytes, final: bool) -> bool:
        """Send with retries; ``True`` once delivered, ``False`` when given up (caller spools/drops)."""
        spooling = self._spool is not None
        if self._clock() < self._down_until and (spooling or final):
            return False  # known down: do not stall the queue, spool or drop right away
        deadline = self._clock() + (0.0 if (spooling or final) else self._settings.retry_window_s)
        while True:
            result = self._transport.send(body)
            if result.outcome is Outcome.DELIVERED:
                self._failures = 0
                self._down_until = 0.0
                return True
            if result.outcome is Outcome.REJECTED:
                return False  # 4xx: resending the same bytes cannot help
            delay = self._backoff(result.retry_after_s)
            self._down_until = self._clock() + delay
            if self._clock() + delay > deadline or self._stop.is_set():
                return False
            if self._stop.wait(delay):
                return False

    def _backoff(self, retry_after_s: float | None) -> float:
        self._failures += 1
        if retry_after_s is not None:
            return min(retry_after_s, self._settings.max_backoff_s)
        base = min(self._settings.max_backoff_s, 0.1 * (2 ** min(self._failures, 16)))
        return base * (0.5 + random.random() / 2)  # jitter: many processes must not retry in step

    def _resend_spool(self, final: bool) -> None:
        spool = self._spool
        if spool is None or self._clock() < self._down_until:
            return
        for path in spool.pending():
            if self._stop.is_set() and not final:
                return
            claimed = spool.claim(path)
            if claimed is None:
                continue
            try:
                body = spool.read(claimed)
            except OSError:
                spool.unclaim(claimed)
                continue
            result = self._transport.send(body)
            if result.outcome is Outcome.RETRY:
                spool.unclaim(claimed)
                self._down_until = self._clock() + self._backoff(result.retry_after_s)
                return
            # Delivered, or rejected for good (a 4xx will not change on resend): the file is done.
            self._failures = 0
            spool.done(claimed)

    def _report_drops(self, final: bool) -> None:
        if not self._drops.pending() or (self._clock() < self._down_until and not final):
            return
        reports: list[DropReport] = self._drops.snapshot()
        if not reports:
            return
        try:
            body = gzip.compress(self._encode((), reports).SerializeToString(), 6)
        except Exception:
            internal_error("encode drop report")
            return
        result = self._transport.send(body)
        if result.outcome is Outcome.DELIVERED:
            self._drops.commit(reports)
        elif result.outcome is Outcome.RETRY:
            self._down_until = self._clock() + self._backoff(result.retry_after_s)
            if final and self._spool is not None and self._spool_write(body):
                self._drops.commit(reports)  # persisted: the next process delivers it
