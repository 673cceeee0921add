"""The pipeline's counting-once steps at submission: a call already stored, already pending, or in flight.

Three checks, in order, for the calls of a request before it joins a batch:
- ``drop_stored``: calls that started before memory covers (``recent.py``) are looked up in
  ``call_keys``; while ClickHouse cannot answer, calls that predate this process are refused (503);
- ``merge_into_pending``: a call whose keys meet one still pending or parked is merged into it
  (``merge.py``) and the request waits until the merged row is durable;
- ``drop_resent``: the rest claims its keys in memory; a copy in flight makes the request wait for it.
Each call dropped is counted as ``duplicate`` (or ``same_call`` when merged).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from tiermix_server.errors import DedupUnavailable
from tiermix_server.ingest.capture import rebind
from tiermix_server.ingest.enrich import NO_USAGE
from tiermix_server.ingest.identity import CallKeys
from tiermix_server.ingest.merge import merge_rows
from tiermix_server.ingest.parking import durable_after_merge
from tiermix_server.ingest.process import TENANT_INDEX
from tiermix_server.ingest.processed import ACCEPTED, CLIPPED, SKIPPED, Processed
from tiermix_server.ingest.submission import Parked, Submission, keep_only
from tiermix_server.ingest.write import LLM_CALLS_COLUMNS, SPAN_ID_INDEX, CallRow

if TYPE_CHECKING:
    from tiermix_server.ingest.pipeline import Pipeline

log = logging.getLogger("tiermix.ingest")
_PRICE_SOURCE_INDEX = LLM_CALLS_COLUMNS.index("price_source")


async def drop_stored(pipeline: Pipeline, processed: Processed) -> None:
    """Skip calls that ClickHouse already holds, for the calls memory cannot answer for."""
    covers = pipeline.recent.covers
    starts = processed.starts()
    if not starts or covers(min(starts) / 1e6):
        return  # the usual case, decided in C: memory covers the oldest call, so it covers them all
    old = [i for i, start_us in enumerate(starts) if not covers(start_us / 1e6)]
    lookup = [key for i in old for key in processed.keys[i].lookup]
    found: set[int] | None = None
    if pipeline.storage_up:  # known down: do not wait on a dead ClickHouse for the answer
        pipeline.stats.count("tiermix_storage_duplicate_checks_total")
        try:
            found = await asyncio.to_thread(pipeline.writer.known_keys, lookup)
        except Exception as exc:
            log.warning("cannot check calls for duplicates in storage: %s", str(exc).splitlines()[:1])
    if found is None:
        # Calls that started before this process cannot be told from a copy stored back then: refuse
        # them for now (the client retries). Calls within the clock-skew margin are taken unchecked.
        if any(pipeline.recent.predates(starts[i] / 1e6) for i in old):
            raise DedupUnavailable(
                "storage is unavailable, and these calls are older than what the collector can check "
                "for duplicates without it",
                pipeline.config.retry_after_s,
            )
        return
    if found:
        stored = {i for i in old if not found.isdisjoint(processed.keys[i].lookup)}
        skip(processed, [i not in stored for i in range(processed.call_count)])


def merge_into_pending(pipeline: Pipeline, processed: Processed) -> set[asyncio.Future[None]]:
    """Merge calls whose keys meet a call still pending in the batcher; returns their futures."""
    if not pipeline._open or not processed.call_count:
        return set()
    open_rows = pipeline._open
    keep: list[bool] = []
    waits: set[asyncio.Future[None]] = set()
    to_respool: set[Parked] = set()
    open_keys = open_rows.keys()
    for index, keys in enumerate(processed.keys):
        if open_keys.isdisjoint(keys.lookup):  # nearly every call: one set operation in C
            keep.append(True)
            continue
        met = next(key for key in keys.lookup if key in open_rows)
        submission = open_rows[met]
        row_index = submission.row_of(met)
        target = (submission, row_index)
        pending = submission.processed
        row = processed.calls[index]
        resent = row[SPAN_ID_INDEX] == pending.calls[row_index][SPAN_ID_INDEX]
        counted_as = row[TENANT_INDEX]
        if not resent:
            counted_as = _merge(pipeline, target, processed, index)
            open_rows.update(dict.fromkeys(keys.store, submission))
            submission.add_keys(row_index, keys.store)
            if submission.parked is not None:
                to_respool.add(submission.parked)
        keep.append(False)
        waits.add(submission.future)  # answered once the merged row is durable
        skip_one(processed, row, "duplicate" if resent else "same_call", counted_as)
    if not all(keep):
        keep_only(processed, keep)
    for parked in to_respool:
        waits.add(durable_after_merge(pipeline, parked))
    return waits


def _merge(pipeline: Pipeline, target: tuple[Submission, int], processed: Processed, index: int) -> str:
    """Merge call ``index`` of ``processed`` into the pending call ``target``; return the tenant of the
    merged call, which its span counts for."""
    submission, row_index = target
    pending = submission.processed
    first, row, keys = pending.calls[row_index], processed.calls[index], processed.keys[index]
    old = pending.keys[row_index]
    merged, pending.scopes[row_index] = merge_rows(
        first, pending.scopes[row_index], row, processed.scopes[index], pipeline._reprice
    )
    # The pending call's tenant stands, unless it named none and this span (a trusted sender's) does.
    tenant = row[TENANT_INDEX] if old.unclaimed and not keys.unclaimed else first[TENANT_INDEX]
    merged = (*merged[:TENANT_INDEX], tenant, *merged[TENANT_INDEX + 1 :])
    pending.calls[row_index] = merged
    # The content may come with either span (OpenLLMetry's, after the anthropic SDK's own).
    kept = pending.captures[row_index] or processed.captures[index]
    pending.captures[row_index] = rebind(kept, merged) if kept else None
    pending.keys[row_index] = CallKeys(
        tuple(dict.fromkeys(old.lookup + keys.lookup)),
        tuple(dict.fromkeys(old.store + keys.store)),
        old.unclaimed and keys.unclaimed,
        old.mergeable or keys.mergeable,
    )
    # Counts that no longer describe the stored row: its tenant moved, or a span counted as having no
    # usage was merged into a call that has it. A parked batch's stats rows are made from these counts
    # each time it is written (``Parked.batch``).
    counts, before = pending.outcomes, first[TENANT_INDEX]
    if tenant != before:
        counts[(before, ACCEPTED, "")] -= 1
        counts[(tenant, ACCEPTED, "")] += 1
    has_usage = merged[_PRICE_SOURCE_INDEX] != NO_USAGE
    if has_usage and first[_PRICE_SOURCE_INDEX] == NO_USAGE:
        counts[(before, CLIPPED, "usage_missing")] -= 1
    if has_usage and row[_PRICE_SOURCE_INDEX] == NO_USAGE:
        processed.outcomes[(row[TENANT_INDEX], CLIPPED, "usage_missing")] -= 1
    return tenant


def drop_resent(
    pipeline: Pipeline, processed: Processed, owner: asyncio.Future[None]
) -> set[asyncio.Future[None]]:
    if not processed.call_count:
        return set()
    keep, waits = pipeline.recent.claim(processed.keys, owner)
    if not all(keep):
        skip(processed, keep)
    return waits


def skip(processed: Processed, keep: list[bool]) -> None:
    """Drop the calls not kept, counting each as a duplicate."""
    for row, new in zip(processed.calls, keep, strict=True):
        if not new:
            skip_one(processed, row, "duplicate")
    keep_only(processed, keep)


def skip_one(processed: Processed, row: CallRow, reason: str, counted_as: str | None = None) -> None:
    """``row`` is not stored: its span counts as skipped, for ``counted_as`` (the tenant of the call it
    was merged into) or its own tenant."""
    tenant = row[TENANT_INDEX]
    processed.outcomes[(tenant, ACCEPTED, "")] -= 1
    processed.outcomes[(counted_as or tenant, SKIPPED, reason)] += 1
