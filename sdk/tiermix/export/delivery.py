"""Getting one batch to the collector: encode, split by size, send with retries, spool or count.

Shared by the worker's export threads; each brings its own :class:`Transport` (one HTTP connection
each), everything else here is safe to use from several threads. The "collector is down" verdict is
shared, so once one thread found it down the others spool (or give up at shutdown) at once instead
of each waiting out its own retries.
"""

from __future__ import annotations

import gzip
import random
import threading
from collections.abc import Callable, Iterator, Sequence

from .._config import Settings
from .._log import internal_error, warn_once
from .._record import Record
from . import encode
from .drops import DropCounter, DropReport
from .spool import Spool
from .transport import Outcome, Transport

Mirror = Callable[[list[Record]], None]

# A request larger than this (uncompressed) is split in halves: collectors cap bodies after
# decompression (tiermix: 16 MiB by default), and captured content can make spans large.
MAX_REQUEST_BYTES = 4 * 1024 * 1024


# Level 1 writes 1.5% more bytes than level 6 at a third of the CPU (0.8 against 2.4 µs per span,
# bench/sdk_overhead.py), which the application pays under its own GIL.
GZIP_LEVEL = 1


class Delivery:
    def __init__(
        self,
        settings: Settings,
        drops: DropCounter,
        spool: Spool | None,
        mirror: Mirror | None,
        clock: Callable[[], float],
        stop: threading.Event,
    ) -> None:
        self._settings = settings
        self._drops = drops
        self._spool = spool
        self._mirror = mirror
        self._clock = clock
        self._stop = stop
        self._lock = threading.Lock()
        self._resource: bytes | None = None  # built on a worker thread, at the first export
        self._down_until = 0.0  # collector considered unreachable until this clock time
        self._failures = 0
        self.exported_calls = 0  # delivered call spans

    # -- one batch -------------------------------------------------------------------------------
    def export(self, transport: Transport, batch: list[Record], final: bool) -> None:
        if self._mirror is not None:
            try:
                self._mirror(batch)
            except Exception:
                internal_error("tracer_provider mirror")
        for body, count in self._bodies(batch):
            outcome = self._deliver(transport, body, final)
            if outcome is Outcome.DELIVERED:
                with self._lock:
                    self.exported_calls += count
            elif outcome is Outcome.REJECTED:
                # The collector refused these for good (a wrong or revoked key, a body too large):
                # resending the same bytes cannot help. Counted, so flush() and stats() say so.
                self._drops.add("rejected", count)
            elif self._spool is not None:
                if not self._spool_write(body):
                    self._drops.add("spool_full", count)
            else:
                self._drops.add("export_failed", count)

    def _bodies(self, batch: Sequence[Record]) -> Iterator[tuple[bytes, int]]:
        """gzip'ed request bodies for ``batch``, halved until each is under ``MAX_REQUEST_BYTES``."""
        try:
            request = self._encode(batch)
            if len(request) > MAX_REQUEST_BYTES and len(batch) > 1:
                half = len(batch) // 2
                yield from self._bodies(batch[:half])
                yield from self._bodies(batch[half:])
                return
            body = gzip.compress(request, GZIP_LEVEL)
        except Exception:
            internal_error("encode")
            self._drops.add("encode_error", len(batch))
            return
        yield body, len(batch)

    def _encode(self, batch: Sequence[Record], reports: Sequence[DropReport] = ()) -> bytes:
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

    def _deliver(self, transport: Transport, body: bytes, final: bool) -> Outcome:
        """Send with retries: DELIVERED, REJECTED (4xx), or RETRY when given up (caller spools/drops)."""
        spooling = self._spool is not None
        if self._clock() < self._down_until and (spooling or final):
            return Outcome.RETRY  # known down: do not stall the queue, spool or drop right away
        deadline = self._clock() + (0.0 if (spooling or final) else self._settings.retry_window_s)
        while True:
            result = transport.send(body)
            if result.outcome is Outcome.DELIVERED:
                self._failures = 0
                self._down_until = 0.0
                return Outcome.DELIVERED
            if result.outcome is Outcome.REJECTED:
                return Outcome.REJECTED  # 4xx: resending the same bytes cannot help
            delay = self._backoff(result.retry_after_s)
            self._down_until = self._clock() + delay
            if self._clock() + delay > deadline or self._stop.is_set():
                return Outcome.RETRY
            if self._stop.wait(delay):
                return Outcome.RETRY

    def _backoff(self, retry_after_s: float | None) -> float:
        self._failures += 1
        if retry_after_s is not None:
            return min(retry_after_s, float(self._settings.max_backoff_s))
        base: float = min(float(self._settings.max_backoff_s), 0.1 * (2 ** min(self._failures, 16)))
        return base * (0.5 + random.random() / 2)  # jitter: many processes must not retry in step

    # -- housekeeping (one thread at a time) ------------------------------------------------------
    def resend_spool(self, transport: Transport, final: bool) -> None:
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
            result = transport.send(body)
            if result.outcome is Outcome.RETRY:
                spool.unclaim(claimed)
                self._down_until = self._clock() + self._backoff(result.retry_after_s)
                return
            # Delivered, or rejected for good (a 4xx will not change on resend): the file is done.
            self._failures = 0
            spool.done(claimed)

    def report_drops(self, transport: Transport, final: bool) -> None:
        if not self._drops.pending() or (self._clock() < self._down_until and not final):
            return
        reports: list[DropReport] = self._drops.snapshot()
        if not reports:
            return
        try:
            body = gzip.compress(self._encode((), reports), GZIP_LEVEL)
        except Exception:
            internal_error("encode drop report")
            return
        result = transport.send(body)
        if result.outcome is Outcome.DELIVERED:
            self._drops.commit(reports)
        elif result.outcome is Outcome.RETRY:
            self._down_until = self._clock() + self._backoff(result.retry_after_s)
            if final and self._spool is not None and self._spool_write(body):
                self._drops.commit(reports)  # persisted: the next process delivers it
