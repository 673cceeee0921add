"""Writing a bill to ClickHouse: each day it covers under a new sync id, so a re-sync replaces the day.

The lines and usage go first, then ``bill_days`` points each day at the new sync: a sync that dies half
way leaves the days on their previous sync (readers never see half a day), and the next sync replaces
them (migration 0007).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from tiermix_server.bills.bill import Bill

LINE_COLUMNS = ("source", "day", "sync_id", "provider", "line_item", "model", "cost_usd")
USAGE_COLUMNS = (
    "source",
    "day",
    "sync_id",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "requests",
)
DAY_COLUMNS = ("source", "day", "sync_id", "synced_at")


def write_bill(client: Any, source: str, bill: Bill) -> int:
    """Store ``bill`` for ``source``; returns its sync id."""
    sync_id = time.time_ns()
    covered = set(bill.days)
    lines = [
        (source, x.day, sync_id, x.provider, x.line_item, x.model, x.cost_usd)
        for x in bill.lines
        if x.day in covered
    ]
    usage = [
        (
            source,
            u.day,
            sync_id,
            u.provider,
            u.model,
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.requests,
        )
        for u in bill.usage
        if u.day in covered
    ]
    if lines:
        client.insert("bill_lines", lines, column_names=list(LINE_COLUMNS))
    if usage:
        client.insert("bill_usage", usage, column_names=list(USAGE_COLUMNS))
    now = datetime.now(timezone.utc)
    days = [(source, day, sync_id, now) for day in sorted(covered)]
    if days:
        client.insert("bill_days", days, column_names=list(DAY_COLUMNS))
    return sync_id
