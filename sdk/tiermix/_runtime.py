"""The process-wide runtime: settings, the bounded queue, the worker; init, flush, shutdown, fork.

``RT`` is ``None`` until ``init()`` or the first recorded call (which initialises from the
environment). The hot path reads the module global once per call and appends to the deque; the only
locks it may take are the drop counter's (queue full) and the worker's wake event (batch full).

The cap is exact without a lock: the deque has ``maxlen = max_queue``, so threads that race past the
"is it full?" check evict the oldest call instead of growing the queue, and every append ticks an
``itertools.count`` (atomic under the GIL) from which the worker works out, and counts as
``queue_full``, how many calls were evicted.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from . import _config
from ._log import internal_error, warn_once
from ._record import Record
from ._stats import ExportStats
from .export.drops import DropCounter
from .export.spool import Spool
from .export.transport import HttpTransport
from .export.worker import Worker

SHUTDOWN_TIMEOUT_S = 5.0


class Runtime:
    def __init__(self, settings: _config.Settings) -> None:
        self.settings = settings
        self.disabled = settings.disabled
        self.capture_content = settings.capture_content
        self.max_queue = settings.max_queue
        self.batch_size = settings.batch_size
        self.queue: deque[Record] = deque(maxlen=self.max_queue)
        self.appended = itertools.count()
        self._count_append = self.appended.__next__
        self.drops = DropCounter()
        self.worker = self._new_worker()
        self.started = False

    def _new_worker(self) -> Worker:
        s = self.settings
        spool = None
        if s.spool_dir:
            try:
                spool = Spool(s.spool_dir, s.spool_max_bytes)
            except OSError as exc:
                warn_once("spool-dir", "tiermix: spool dir %s unusable (%s); spooling off", s.spool_dir, exc)
        mirror = None
        if s.tracer_provider is not None:
            from .export.mirror import make_mirror

            mirror = make_mirror(s.tracer_provider, s)

        def transport() -> HttpTransport:  # one connection per export thread
            return HttpTransport(s.traces_url, s.headers, s.export_timeout_s)

        return Worker(
            self.queue,
            s,
            self.drops,
            transport(),
            spool,
            mirror,
            appended=self.appended,
            make_transport=transport,
        )

    def start(self) -> None:
        if not self.started and not self.disabled:
            self.started = True
            self.worker.start()

    def enqueue(self, record: Record) -> None:
        queue = self.queue
        if len(queue) >= self.max_queue:
            self.drops.add("queue_full")
            return
        queue.append(record)
        self._count_append()
        if not self.started:
            self.start()
        elif len(queue) == self.batch_size:
            self.worker.wake()

    def submit(self, record: Record) -> None:
        cascade = record.scope.cascade
        if cascade is not None and cascade.add(record):
            return
        self.enqueue(record)

    def submit_many(self, records: list[Record]) -> None:
        try:
            for record in records:
                self.enqueue(record)
        except Exception:
            internal_error("cascade submit")

    def flush(self, timeout_s: float) -> bool:
        return self.worker.flush(timeout_s)

    def shutdown(self, timeout_s: float) -> bool:
        return self.worker.shutdown(timeout_s)

    def after_fork_in_child(self) -> None:
        # The parent's worker thread does not exist here and the parent exports what it queued:
        # start empty so nothing is sent twice.
        self.queue = deque(maxlen=self.max_queue)
        self.appended = itertools.count()
        self._count_append = self.appended.__next__
        self.drops = DropCounter()
        self.worker = self._new_worker()
        self.started = False


RT: Runtime | None = None
_lock = threading.RLock()


def init(env: Mapping[str, str] | None = None, **args: Any) -> Runtime:
    global RT
    settings = _config.resolve(os.environ if env is None else env, **args)
    with _lock:
        old, RT = RT, Runtime(settings)
    if old is not None:
        old.shutdown(SHUTDOWN_TIMEOUT_S)
    if settings.spool_dir and not settings.disabled:
        RT.start()  # resend what a previous run spooled without waiting for a first call
    return RT


def ensure() -> Runtime:
    """The runtime, initialising from the environment on first use (``init()`` is optional)."""
    rt = RT
    if rt is not None:
        return rt
    with _lock:
        if RT is not None:
            return RT
        try:
            return init()
        except Exception:  # never let configuration trouble reach the application's call
            internal_error("auto-init")
            return init(env={}, disabled=True)


def stats() -> ExportStats:
    rt = RT
    if rt is None:
        return ExportStats()
    return ExportStats(len(rt.queue), rt.worker.exported_calls, dict(rt.drops.total))


def flush(timeout_s: float = 10.0) -> bool:
    rt = RT
    return rt.flush(timeout_s) if rt is not None else True


def shutdown(timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
    global RT
    with _lock:
        rt, RT = RT, None
    return rt.shutdown(timeout_s) if rt is not None else True


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.RLock()  # may have been held by another parent thread at fork time
    rt = RT
    if rt is not None:
        rt.after_fork_in_child()


def _at_exit() -> None:
    try:
        shutdown(SHUTDOWN_TIMEOUT_S)
    except Exception:
        internal_error("atexit")


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
