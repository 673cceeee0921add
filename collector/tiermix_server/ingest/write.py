"""Batches and the writer seam: column-oriented, idempotent inserts through the one shared client.

A ``Batch`` is the unit of durability: it is inserted as one block per table, or spooled as one record,
and it carries a ``token`` fixed when the batch is formed. Every insert of that batch — the first try,
a retry after a timeout, a replay from the spool after a crash — sends the same
``insert_deduplication_token``, and ``deduplicate_blocks_in_dependent_materialized_views=1`` extends the
check to the rollups, so ClickHouse keeps the block exactly once in ``llm_calls`` *and* in
``llm_calls_1m``/``_1h`` (FACTS.md; the tables set ``non_replicated_deduplication_window``). Async
inserts are switched off per insert: an acknowledged insert must be in a part, not in a buffer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

CALL_COLUMNS = (
    "ts",
    "duration_ms",
    "ttft_ms",
    "trace_id",
    "span_id",
    "parent_span_id",
    "request_id",
    "attempt",
    "final",
    "escalated",
    "failover",
    "escalation_reason",
    "escalation_detail",
    "tenant",
    "route",
    "environment",
    "service",
    "user_hash",
    "provider",
    "operation",
    "request_model",
    "model",
    "tier",
    "tier_source",
    "router",
    "routing_reason",
    "routing_score",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "price_source",
    "unpriced",
    "status",
    "error_type",
    "finish_reason",
    "tags",
)
SPAN_ID_INDEX = CALL_COLUMNS.index("span_id")
DROP_COLUMNS = ("ts", "span_id", "since", "tenant", "service", "environment", "reason", "dropped")
STATS_COLUMNS = ("bucket", "tenant", "outcome", "reason", "spans")

# Row shapes: tuples in the column order above; timestamps as integer microseconds (DateTime64(6))
# or seconds (DateTime), which clickhouse-connect writes as raw ticks without building datetimes.
CallRow = tuple[Any, ...]
DropRow = tuple[int, int, int, str, str, str, str, int]
StatsRow = tuple[int, str, str, str, int]


@dataclass(frozen=True, slots=True)
class Batch:
    token: str
    calls: list[CallRow]
    drops: list[DropRow]
    stats: list[StatsRow]

    @property
    def size(self) -> int:
        return len(self.calls) + len(self.drops) + len(self.stats)


class CallWriter(Protocol):
    """Makes a batch durable in storage, or raises. Must be safe to call again with the same batch."""

    def write(self, batch: Batch) -> None: ...

    def ping(self) -> None: ...


class ClickHouseWriter:
    """Inserts batches through the process's one clickhouse-connect client."""

    def __init__(self, client: Any, observe_latency: Any = None) -> None:
        self._client = client
        self._observe = observe_latency

    def write(self, batch: Batch) -> None:
        started = time.perf_counter()
        for table, columns, rows in (
            ("llm_calls", CALL_COLUMNS, batch.calls),
            ("sdk_drops", DROP_COLUMNS, batch.drops),
            ("ingest_stats", STATS_COLUMNS, batch.stats),
        ):
            if rows:
                self._insert(table, columns, rows, f"{batch.token}:{table}")
        if self._observe is not None:
            self._observe(time.perf_counter() - started)

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[Any], token: str) -> None:
        data = [list(column) for column in zip(*rows, strict=True)]
        self._client.insert(
            table,
            data,
            column_names=list(columns),
            column_oriented=True,
            settings={
                "insert_deduplication_token": token,
                "insert_deduplicate": 1,
                "deduplicate_blocks_in_dependent_materialized_views": 1,
                "async_insert": 0,
            },
        )

    def ping(self) -> None:
        self._client.command("SELECT 1")


def recent_span_ids(client: Any, window_s: int, limit: int) -> list[int]:
    """Span ids stored in the last ``window_s`` seconds: seeds the resend filter after a restart."""
    result = client.query(
        "SELECT span_id FROM llm_calls WHERE ingested_at >= now() - {window:UInt32} "
        "ORDER BY ingested_at DESC LIMIT {limit:UInt32}",
        parameters={"window": window_s, "limit": limit},
    )
    return [row[0] for row in result.result_rows]
