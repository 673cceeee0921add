"""Syncing provider bills: on a schedule inside the server, and on demand (``tiermix bills sync``).

A sync of a source fetches the days from where it stopped — ``synced_through`` minus ``REFETCH_DAYS``
(providers settle a day's cost late) — or, the first time, the last ``backfill_days``, up to today, and
stores them (``store.write_bill``: each day replaced whole). Days are fetched in chunks of ``CHUNK_DAYS``
and progress is recorded after each, so a sync that fails half way resumes there. A failure is kept on
the source (``last_error``) and shown by the API; other sources sync on. One server at a time syncs (a
lease in the metadata DB).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from tiermix_server.bills import anthropic_bill, openai_bill
from tiermix_server.bills.bill import Bill, BillFetchError
from tiermix_server.bills.store import write_bill
from tiermix_server.meta import bill_sources
from tiermix_server.meta.bill_sources import SourceRow
from tiermix_server.meta.lease import Lease

log = logging.getLogger("tiermix.bills")
REFETCH_DAYS = 2
CHUNK_DAYS = 31
SYNC_INTERVAL_S = 6 * 3600.0
Fetcher = Callable[[str, str, date, date], Bill]
FETCHERS: dict[str, Fetcher] = {"openai": openai_bill.fetch, "anthropic": anthropic_bill.fetch}


@dataclass(frozen=True, slots=True)
class SyncResult:
    source: str
    start: date | None
    end: date | None
    days: int
    lines: int
    billed_usd: float
    error: str

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "days": self.days,
            "lines": self.lines,
            "billed_usd": self.billed_usd,
            "error": self.error or None,
        }


def sync_window(source: SourceRow, today: date, days: int | None = None) -> tuple[date, date]:
    """[start, end): ``days`` back when asked (a backfill), else from where the last sync stopped."""
    end = today + timedelta(days=1)
    if days is not None:
        return today - timedelta(days=days - 1), end
    if source.synced_through is None:
        return today - timedelta(days=source.backfill_days - 1), end
    return min(source.synced_through - timedelta(days=REFETCH_DAYS - 1), today), end


def sync_source(
    client: Any, meta: Any, source: SourceRow, *, days: int | None = None, now: datetime | None = None
) -> SyncResult:
    now = now or datetime.now(timezone.utc)
    if source.kind not in FETCHERS:
        return SyncResult(
            source.name, None, None, 0, 0, 0.0, f"a {source.kind} source is imported, not synced"
        )
    fetch = FETCHERS[source.kind]
    start, end = sync_window(source, now.date(), days)
    cursor, lines, billed, done = start, 0, 0.0, 0
    try:
        while cursor < end:
            chunk_end = min(cursor + timedelta(days=CHUNK_DAYS), end)
            bill = fetch(source.base_url, source.admin_key, cursor, chunk_end)
            write_bill(client, source.name, bill)
            lines += len(bill.lines)
            billed += sum(line.cost_usd for line in bill.lines)
            done += len(bill.days)
            # today is still being billed: progress stops at yesterday, so the next sync fetches it again
            through = min(chunk_end, now.date()) - timedelta(days=1)
            bill_sources.record_sync(meta, source.name, synced_through=through, at=now, error="")
            cursor = chunk_end
    except BillFetchError as exc:
        message = str(exc)
        bill_sources.record_sync(meta, source.name, synced_through=None, at=now, error=message)
        log.warning("bill source %s: %s", source.name, message)
        return SyncResult(source.name, start, cursor, done, lines, billed, message)
    return SyncResult(source.name, start, end, done, lines, billed, "")


def sync_all(client: Any, meta: Any, *, name: str | None = None, days: int | None = None) -> list[SyncResult]:
    sources = [s for s in bill_sources.list_sources(meta) if s.enabled and s.kind in FETCHERS]
    if name is not None:
        sources = [bill_sources.get_source(meta, name)]
    return [sync_source(client, meta, source, days=days) for source in sources]


async def start_bill_sync(
    runtime: Any, stack: contextlib.AsyncExitStack, interval_s: float = SYNC_INTERVAL_S
) -> None:
    """Every ``interval_s`` (first soon after start), sync every enabled API source, one server at a time."""
    stop = asyncio.Event()

    async def loop() -> None:
        lease = Lease(runtime.meta, ttl_s=interval_s, name="bill-sync")
        while not stop.is_set():
            try:
                if await asyncio.to_thread(lease.acquire):
                    await asyncio.to_thread(sync_all, runtime.clickhouse, runtime.meta)
            except Exception:
                log.exception("bill sync failed; it runs again at the next interval")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    task = asyncio.create_task(loop(), name="tiermix-bill-sync")

    async def close() -> None:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(close)
