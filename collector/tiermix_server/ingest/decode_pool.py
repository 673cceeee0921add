"""Decode workers: OTLP bodies decoded, mapped, validated and priced in other processes.

Profiled (docs/performance.md, "Ingest, stage by stage"), the collector's event loop spends ~80% of its
time in ``process`` — pure Python under the GIL, so threads cannot share it. With decode workers the
event loop only reads bodies, hands each to a worker, and queues what comes back; ``process`` runs in
``workers`` processes at once. What stays in the collector:
- **capture**: its byte budget and sampling counters are one state, so content travels back with the
  rows and ``take_captures`` runs here;
- **freshness**: every job carries the collector enricher's pricing version; a worker whose prices are
  older reloads before pricing (``Enricher.catch_up``), so a price or tier change made through the API
  applies to the very next request in every worker, as it does inline.

Small bodies are decoded inline (``TIERMIX_DECODE_INLINE_MAX_BYTES``): for a handful of spans the
hand-off (two pickles and a pipe round trip, ~0.2 ms) costs more than the work. The workers start with
the first larger body, in the background (they import protobuf and the price book: about a second);
until they have answered a warm-up job, every body is decoded inline. A collector that only ever
receives small requests never starts them.

A worker that dies (killed, out of memory, a crash in the protobuf library on a hostile body) breaks the
pool, and new workers start in the background. The requests it was decoding get 503 with Retry-After —
never a retry inline, which a crashing body would take the collector down with; a request that finds
the pool already broken had no part in it and is decoded inline. Decode errors (a 400, a 413) are
ordinary exceptions: they come back from the worker as they are raised inline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from tiermix_server.errors import DecodeWorkerLost
from tiermix_server.gc_pause import tune_for_serving
from tiermix_server.ingest import handoff
from tiermix_server.ingest.decode import PROTOBUF, decompress, parse
from tiermix_server.ingest.process import process
from tiermix_server.ingest.processed import Processed
from tiermix_server.ingest.validate import Limits
from tiermix_server.process_memory import resident_bytes

log = logging.getLogger("tiermix.ingest")

RETRY_AFTER_S = 1


def default_workers() -> int:
    """``TIERMIX_DECODE_WORKERS=auto``: one per core, none on one core.

    Not one fewer than the cores: the event loop itself needs little once decoding has left it, and
    the insert runs in ClickHouse's own threads (measured on 2 cores: 1 worker 20k calls/s, 2 workers
    24k, 3 workers 23.5k; docs/performance.md).
    """
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


class DecodePool:
    """``workers`` decode processes, replaced whole when one dies."""

    def __init__(self, settings: Any, workers: int, stats: Any = None) -> None:
        self._settings = settings
        self._stats = stats
        self._workers = workers
        self.inline_max_bytes = settings.decode_inline_max_bytes
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._started = False
        self._ready = False
        self._closed = False
        if stats is not None:
            stats.gauge(
                "tiermix_decode_workers_ready",
                "decode worker processes taking bodies (0: decoding on the event loop)",
                lambda: self._workers if self._ready else 0,
            )
            stats.gauge(
                "tiermix_decode_workers_resident_memory_bytes",
                "resident memory of the decode worker processes, summed (0 before they start)",
                self.resident_bytes,
            )

    def start(self) -> None:
        """Start the workers; bodies go to them once the warm-up jobs (one per worker) came back."""
        with self._lock:
            if self._closed:
                return
            self._started = True
            self._ready = False
            # spawn, not fork: the collector holds chDB's threads and locks, which a fork would copy
            # mid-use; a spawned worker imports only the decode path.
            executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._settings,),
            )
            self._executor = executor
        with _main_module_hidden():  # the executor starts its processes in these submits
            warmups = [executor.submit(_warm_up) for _ in range(self._workers)]
        threading.Thread(target=self._await_warm_up, args=(executor, warmups), daemon=True).start()

    def _await_warm_up(
        self, executor: concurrent.futures.ProcessPoolExecutor, warmups: list[concurrent.futures.Future[Any]]
    ) -> None:
        try:
            for future in warmups:
                future.result(timeout=120)
        except Exception:
            log.exception("decode workers did not start; decoding stays on the event loop")
            return
        with self._lock:
            if self._executor is executor and not self._closed:
                self._ready = True
                log.info("%d decode worker(s) ready", self._workers)

    def resident_bytes(self) -> float:
        executor = self._executor
        # ``_processes`` (pid → process) is the executor's own record of its live workers; it has no
        # public equivalent, and an executor being replaced may have none yet.
        return sum(map(resident_bytes, dict(getattr(executor, "_processes", None) or {})))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._ready = False
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def inline(self, nbytes: int) -> bool:
        """Whether a body of ``nbytes`` (as received) is decoded on the event loop (starting the workers
        at the first body too large for it)."""
        if nbytes <= self.inline_max_bytes:
            return True
        if not self._started:
            self.start()
        return not self._ready

    async def decode(self, body: bytes, encoding: str | None, media: str, job: DecodeJob) -> Processed | None:
        """``body`` decoded in a worker, captures still to take (``process.take_captures``); None when
        the workers were found down before it was handed over (it is then the caller's to decode)."""
        executor = self._executor
        if executor is None:
            return None
        try:
            future = executor.submit(_decode, body, encoding, media, job)
        except (BrokenProcessPool, RuntimeError):  # broken, or shut down: this body had no part in it
            self._replace(executor)
            return None
        try:
            answer = await asyncio.wrap_future(future)
        except BrokenProcessPool:
            # It may be this body that crashed the worker: never retried here, where it could crash
            # the collector; the client retries, by then to new workers.
            self._replace(executor)
            raise DecodeWorkerLost(
                "a decode worker stopped while decoding this request; retry", retry_after_s=RETRY_AFTER_S
            ) from None
        self._count("tiermix_decode_jobs_total")
        return handoff.unpack(answer)

    def _count(self, name: str) -> None:
        if self._stats is not None:
            self._stats.count(name)

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not broken or self._closed:
                return  # another request saw the same break and already replaced it
            self._executor = None
            self._ready = False
        self._count("tiermix_decode_worker_restarts_total")
        log.error("a decode worker died; starting new ones (decoding on the event loop meanwhile)")
        broken.shutdown(wait=False, cancel_futures=True)
        self.start()


@dataclass(frozen=True, slots=True)
class DecodeJob:
    """Everything a worker needs besides the body: small, and picklable."""

    max_body_bytes: int
    max_age_days: int
    tenant: str | None
    ignore_scopes: frozenset[str]
    keep_content: bool
    pricing_version: int
    # the collector's clock decides what is too old or too far ahead, as it does inline
    now_ns: int = field(default_factory=time.time_ns)


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While worker processes start, the parent's ``__main__`` has no file or spec to re-run.

    A spawned child runs the parent's main script again before anything else (multiprocessing's
    "safe importing of main module"). The workers need nothing from it, and the collector may be
    embedded in a script that is not guarded by ``if __name__ == "__main__"`` — a test run that had
    executed the dashboard's Streamlit script as ``__main__`` made every worker run the dashboard and
    die. Without ``__file__`` and ``__spec__``, ``multiprocessing.spawn`` skips that step.
    """
    main = sys.modules.get("__main__")
    namespace: dict[str, Any] = main.__dict__ if main is not None else {}
    saved: dict[str, Any] = {name: namespace[name] for name in ("__file__", "__spec__") if name in namespace}
    try:
        namespace.pop("__file__", None)
        if "__spec__" in namespace:
            namespace["__spec__"] = None
        yield
    finally:
        namespace.update(saved)


# -- in the worker process -----------------------------------------------------------------------
_enricher: Any = None
_compiled_decode = True


def _init_worker(settings: Any) -> None:
    global _enricher, _compiled_decode
    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing.enricher import build_enricher

    # The same prices and tiers as the collector's, checked for changes on the same schedule.
    _enricher = build_enricher(settings, open_meta(settings), background=False)
    _compiled_decode = settings.compiled_decode
    # What the worker holds for good (modules, the price book) is never scanned again, and the young
    # generation is collected every 100,000 allocations, as in the collector: with the default 700, the
    # answer a request leaves (a row and keys per call) set off a collection at about every request,
    # ~0.5 µs a call (docs/performance.md).
    tune_for_serving()


def _warm_up() -> int:
    return os.getpid()


def _decode(body: bytes, encoding: str | None, media: str, job: DecodeJob) -> bytes:
    _enricher.catch_up(job.pricing_version)
    raw = decompress(body, encoding, job.max_body_bytes)
    return handoff.pack(
        process(
            parse(raw, media),
            wire=raw if media == PROTOBUF and _compiled_decode else None,
            enricher=_enricher,
            limits=Limits(now_ns=job.now_ns, max_age_days=job.max_age_days),
            tenant=job.tenant,
            ignore_scopes=job.ignore_scopes,
            keep_content=job.keep_content,
        )
    )
