"""The export worker: a few daemon threads that batch, encode, send, retry, spool and report.

Modelled on OpenTelemetry's ``BatchSpanProcessor``: a bounded deque filled by the application,
threads that wake as soon as a full batch is queued (and export it at once) or on a timer for a
partial one, flush and shutdown with a timeout. The application thread never waits for them.

Throughput comes from overlap, not from more CPU: the collector answers only once a batch is durable,
so one request in flight leaves the worker idle most of the time. ``max_concurrent_exports`` threads
(default 2) each take a batch, encode it and POST it on their own connection, so one encodes while
another waits for its answer. At most ``max_concurrent_exports`` batches are out of the queue at any
time, which bounds memory at ``max_queue + max_concurrent_exports * batch_size`` calls. Batch order
does not matter (the collector is idempotent by span id).

While the collector is unreachable a batch is retried with backoff (honouring ``Retry-After``) for at
most ``retry_window_s``, then dropped and counted -- or, with a spool, written to disk at once and
resent when the collector answers again. Housekeeping (resending the spool, counting evictions,
sending drop reports) runs on one thread at a time, on the timer, on flush and at shutdown.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .._config import Settings
from .._record import Record
from .delivery import Delivery, Mirror
from .drops import DropCounter
from .spool import Spool
from .transport import Transport

__all__ = ["Mirror", "Worker"]


@dataclass(slots=True)
class _Flush:
    need_popped: int  # every call popped before this index must be finished
    done: bool = False


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
        make_transport: Callable[[], Transport] | None = None,
    ) -> None:
        self._queue = queue
        self._appended = appended  # ticked once per append by the application threads
        self._counter_reads = 0  # our own ticks of ``appended``
        self._evicted = 0
        self._settings = settings
        self._drops = drops
        self._transport = transport
        self._make_transport = make_transport
        self._clock = clock
        self._stop = threading.Event()
        self._delivery = Delivery(settings, drops, spool, mirror, clock, self._stop)
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._popped = 0  # calls taken out of the queue so far
        self._inflight: dict[int, int] = {}  # pop index of each batch being exported -> its size
        self._flushes: list[_Flush] = []
        self._next_partial = clock() + settings.export_interval_s
        self._next_housekeeping = 0.0  # at once: resend what a previous run spooled
        self._housekeeping = False
        self._final_claimed = False
        self._dropped_at_flush = 0  # drops counted when flush() last answered

    @property
    def exported_calls(self) -> int:
        """Call spans delivered so far (what ``tiermix.stats()`` reports)."""
        return self._delivery.exported_calls

    # -- control, called from application threads --------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        count = max(1, self._settings.max_concurrent_exports) if self._make_transport else 1
        for index in range(count):
            transport = self._transport if index == 0 else self._make_transport()  # type: ignore[misc]
            thread = threading.Thread(
                target=self._run, args=(transport,), name=f"tiermix-export-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def wake(self) -> None:
        """A full batch is queued: export it now instead of at the next tick."""
        with self._cond:
            self._cond.notify()

    def flush(self, timeout_s: float) -> bool:
        """Export everything queued so far.

        ``False`` if that did not finish within ``timeout_s``, or if any call recorded since the
        previous flush was dropped instead of delivered (refused by the collector, queue full, ...):
        ``tiermix.stats().dropped`` says why.
        """
        if not any(thread.is_alive() for thread in self._threads):
            return not self._queue and self._no_new_drops()
        with self._cond:
            ticket = _Flush(self._popped + len(self._queue))
            self._flushes.append(ticket)
            self._cond.notify_all()
            done = self._cond.wait_for(lambda: ticket.done, timeout_s)
        return self._no_new_drops() and done

    def _no_new_drops(self) -> bool:
        total = self._drops.total_dropped
        with self._cond:
            clean, self._dropped_at_flush = total == self._dropped_at_flush, total
        return clean

    def shutdown(self, timeout_s: float) -> bool:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    # -- the threads ---------------------------------------------------------------------------
    def _run(self, transport: Transport) -> None:
        try:
            while True:
                job = self._next_job()
                if job is None:
                    return
                if isinstance(job, tuple):
                    self._export(transport, *job)
                else:
                    self._housekeep(transport, job)
        finally:
            transport.close()

    def _drained(self, need_popped: int) -> bool:
        """Every call popped before ``need_popped`` (or everything, once idle) has been exported."""
        if self._inflight:
            return min(self._inflight) >= need_popped
        return self._popped >= need_popped or not self._queue

    def _next_job(self) -> tuple[int, list[Record], bool] | list[_Flush] | None:
        """Under the lock: a batch ``(pop index, records, final)``, housekeeping (the flushes it
        completes), or ``None`` when the thread should exit."""
        batch_size = self._settings.batch_size
        interval_s = self._settings.export_interval_s
        with self._cond:
            while True:
                now = self._clock()
                stopping = self._stop.is_set()
                queued = len(self._queue)
                due = now >= self._next_partial
                flushing = any(not f.done and f.need_popped > self._popped for f in self._flushes)
                if queued and (queued >= batch_size or due or flushing or stopping):
                    return self._take(batch_size, now, stopping)
                if due:
                    self._next_partial = now + interval_s
                if not self._housekeeping:
                    ready = [f for f in self._flushes if not f.done and self._drained(f.need_popped)]
                    if stopping and not self._inflight and not self._final_claimed:
                        self._final_claimed = self._housekeeping = True
                        return ready
                    if not stopping and (ready or now >= self._next_housekeeping):
                        self._housekeeping = True
                        self._next_housekeeping = now + interval_s
                        return ready
                if stopping and self._final_claimed:
                    return None
                wait_s = 0.05 if stopping else min(self._next_partial, self._next_housekeeping) - now
                self._cond.wait(max(0.001, wait_s))

    def _take(self, batch_size: int, now: float, final: bool) -> tuple[int, list[Record], bool]:
        queue = self._queue
        popleft = queue.popleft
        batch: list[Record] = []
        try:
            while len(batch) < batch_size:
                batch.append(popleft())
        except IndexError:
            pass
        if len(batch) < batch_size:
            self._next_partial = now + self._settings.export_interval_s
        start = self._popped
        self._popped += len(batch)
        self._inflight[start] = len(batch)
        if len(queue) >= batch_size:
            self._cond.notify()  # another full batch: an idle thread can take it now
        return start, batch, final

    def _export(self, transport: Transport, start: int, batch: list[Record], final: bool) -> None:
        try:
            self._delivery.export(transport, batch, final)
        finally:
            with self._cond:
                del self._inflight[start]
                self._cond.notify_all()

    def _housekeep(self, transport: Transport, flushes: list[_Flush]) -> None:
        final = self._stop.is_set()
        try:
            self._count_evictions()
            self._delivery.resend_spool(transport, final)
            self._delivery.report_drops(transport, final)
        finally:
            with self._cond:
                self._housekeeping = False
                for ticket in flushes:
                    ticket.done = True
                self._flushes = [f for f in self._flushes if not f.done]
                self._cond.notify_all()

    def _count_evictions(self) -> None:
        """Count as ``queue_full`` the calls the full deque evicted when app threads raced its cap.

        appended - popped - still queued = evicted. Reading the counter before the queue length
        can only under-count for a moment (an append between the two reads), never over-count, and
        the next round catches up, so the total is exact.
        """
        if self._appended is None:
            return
        with self._cond:
            appended = next(self._appended) - self._counter_reads
            self._counter_reads += 1
            evicted = appended - self._popped - len(self._queue)
            if evicted > self._evicted:
                self._drops.add("queue_full", evicted - self._evicted)
                self._evicted = evicted
