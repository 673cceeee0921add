"""Parking: a batch that another span may still join is answered once spooled, inserted after a window.

``_commit`` parks a batch holding a call with a parent span or a response id (``CallKeys.mergeable``):
the batch is spooled (held, fsync) and its requests answered; ``run_parking`` inserts it once
``merge_window_s`` has passed. A span merged into a parked call meanwhile (``dedup.py``) has the record
written again (``respool``: one rewrite serves the merges made before it starts) before its own request
is answered. Invariants: ``closing`` is set on the event loop, like every merge, so no merge can come
after the insert read the rows; the record, the insert and the re-spool hold the batch's lock, so a
crash at any point leaves the merged rows in the spool or in ClickHouse; a parked batch that cannot be
inserted is released to the drainer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from tiermix_server.errors import SpoolFull
from tiermix_server.ingest.submission import Parked

if TYPE_CHECKING:
    from tiermix_server.ingest.pipeline import Pipeline

log = logging.getLogger("tiermix.ingest")


def park(pipeline: Pipeline, parked: Parked) -> bool:
    """Spool the batch (held) so its requests can be answered now; False when the spool cannot."""
    with parked.lock:
        batch = parked.batch()
        record = pipeline.spool.encode(batch)
        if not pipeline.spool.has_room(len(record)):
            return False
        try:
            parked.path = pipeline.spool.append(batch, record, held=True)
        except OSError:
            log.exception("cannot write the spool")
            return False
    pipeline.stats.count("tiermix_parked_batches_total")
    return True


def durable_after_merge(pipeline: Pipeline, parked: Parked) -> asyncio.Future[None]:
    """A future done once the parked batch, as its rows are now, is in the spool again (``respool``).

    Called on the event loop right after a merge. Every merge made before a re-spool starts shares it:
    requests from many senders merging into one parked batch (a peer's and the tiermix SDK's exporters)
    cost a few rewrites of it, not one each; a rewrite of a 10,000-call batch is 15 to 25 ms of a thread
    holding the batch's lock, and was made once per merging request.
    """
    if parked.respool_next is None:
        parked.respool_next = asyncio.get_running_loop().create_future()
    waiting = parked.respool_next
    if parked.respooler is None:  # kept on the batch: a task nobody references may be collected
        parked.respooler = asyncio.ensure_future(_respool_while_merged(pipeline, parked))
    return waiting


async def _respool_while_merged(pipeline: Pipeline, parked: Parked) -> None:
    try:
        while parked.respool_next is not None:
            # Merges from here on wait for the next round: this one may read the rows before them.
            waiting, parked.respool_next = parked.respool_next, None
            try:
                await asyncio.to_thread(respool, pipeline, parked)
            except Exception as exc:
                waiting.set_exception(exc)
            else:
                waiting.set_result(None)
    finally:
        parked.respooler = None


def respool(pipeline: Pipeline, parked: Parked) -> None:
    """A span was merged into a parked call: make the merged row durable before answering its request."""
    with parked.lock:
        if parked.closing or parked.done or parked.path is None:
            # Inserted (or about to be) with the merge already in its rows, or never parked: the
            # batch is then written by the normal path, which reads the rows after the merge too.
            return
        old = parked.path
        try:
            parked.path = pipeline.spool.append(parked.batch(), held=True)
        except OSError:
            raise SpoolFull("cannot make the merged call durable: the spool cannot be written", 10) from None
        pipeline.spool.remove(old)


def insert_parked(pipeline: Pipeline, parked: Parked) -> None:
    with parked.lock:
        batch = parked.batch()
        try:
            if not pipeline.storage_up:
                raise ConnectionError(pipeline.storage_error or "storage is down")
            refused = pipeline.writer.write(batch)
        except Exception as exc:
            pipeline._mark_down(exc)
            if parked.path is not None:
                pipeline.spool.release(parked.path)  # the drainer inserts it under the same token
                pipeline.stats.count("tiermix_spooled_batches_total")
                if pipeline._loop is not None:
                    pipeline._loop.call_soon_threadsafe(pipeline._drain_wakeup.set)
        else:
            pipeline._set_aside(refused)
            pipeline._count_written(batch)
            if parked.path is not None:
                pipeline.spool.remove(parked.path)
        parked.done = True


async def run_parking(pipeline: Pipeline) -> None:
    while True:
        now = time.monotonic()
        due = [p for p in pipeline._parked if p.deadline <= now or pipeline._stopping]
        for parked in due:
            pipeline._parked.remove(parked)
            parked.closing = True  # on the event loop, like every merge: none can come after this
            pipeline._close(parked.submissions)
            try:
                await asyncio.to_thread(insert_parked, pipeline, parked)
            except Exception:  # a bug here must not strand the others: this one is in the spool
                log.exception("inserting a parked batch failed; its spool record is drained later")
                if parked.path is not None:
                    pipeline.spool.release(parked.path)
        if pipeline._stopping and not pipeline._parked and not pipeline._pending:
            return
        next_deadline = min((p.deadline for p in pipeline._parked), default=None)
        pipeline._park_wakeup.clear()
        timeout = None if next_deadline is None else max(0.0, next_deadline - time.monotonic())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(pipeline._park_wakeup.wait(), 0.5 if timeout is None else timeout)
