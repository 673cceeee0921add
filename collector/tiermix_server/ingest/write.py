"""Batches and the writer seam: column-oriented, idempotent inserts through the one shared client.

A ``Batch`` is the unit of durability: it is inserted as one block per table, or spooled as one record,
and it carries a ``token`` fixed when the batch is formed. Every insert of that batch — the first try,
a retry after a timeout, a replay from the spool after a crash — sends the same
``insert_deduplication_token``, and ``deduplicate_blocks_in_dependent_materialized_views=1`` extends the
check to the rollups, so ClickHouse keeps the block exactly once in ``llm_calls`` *and* in
``llm_calls_1m``/``_1h`` (the tables set ``non_replicated_deduplication_window``; docs/architecture.md).
Async inserts are switched off per insert: an acknowledged insert must be in a part, not in a buffer.

Poison: validation keeps every value inside its column's range, but if ClickHouse still refuses a
table's rows while it answers a ping, the rows are split in halves (tokens derived from the batch's, so
a replay splits the same way and stays exact) until the rows it refuses on their own are found; those
are returned as ``Refused`` and everything else is stored. Only errors that name a value split a batch
(a row that cannot be encoded, or a ClickHouse code such as VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE); any
other failure — no answer, a missing table, a full disk — is an outage, raised whole, so the batch is
spooled and replayed under its first token.
"""

from __future__ import annotations

import marshal
import re
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from clickhouse_connect.driver.exceptions import DataError

from tiermix_server.gc_pause import cycle_collection_paused

# The columns of an `llm_calls` insert, in the order of every CallRow tuple.
LLM_CALLS_COLUMNS = (
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
SPAN_ID_INDEX = LLM_CALLS_COLUMNS.index("span_id")
TS_INDEX = LLM_CALLS_COLUMNS.index("ts")
KEY_COLUMNS = ("key", "ts")
DROP_COLUMNS = ("ts", "span_id", "since", "tenant", "service", "environment", "reason", "dropped")
STATS_COLUMNS = ("bucket", "tenant", "outcome", "reason", "spans")
# replay_captures (ingest/capture.py): a sampled call's redacted request and answer, with its figures
CAPTURE_COLUMNS = (
    "ts",
    "expires_at",
    "tenant",
    "route",
    "environment",
    "span_id",
    "request_id",
    "attempt",
    "final",
    "status",
    "provider",
    "model",
    "tier",
    "router",
    "routing_score",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced",
    "request",
    "response",
    "bytes",
)

# Row shapes: tuples in the column order above; timestamps as integer microseconds (DateTime64(6))
# or seconds (DateTime), which clickhouse-connect writes as raw ticks without building datetimes.
CallRow = tuple[Any, ...]
DropRow = tuple[int, int, int, str, str, str, str, int]
StatsRow = tuple[int, str, str, str, int]
KeyRow = tuple[int, int]  # (call key, call start in epoch seconds): identity.py, table call_keys


@dataclass(frozen=True, slots=True)
class Batch:
    token: str
    calls: list[CallRow]
    drops: list[DropRow]
    stats: list[StatsRow]
    keys: list[KeyRow] = field(default_factory=list)
    captures: list[tuple[Any, ...]] = field(default_factory=list)  # replay_captures rows (capture.py)
    # More call rows, as decode workers packed them (``marshal`` of a list of rows; processed.py): kept
    # as bytes in the spool's record, rebuilt only by the insert that turns them into columns.
    packed_calls: list[bytes] = field(default_factory=list)
    packed_count: int = 0  # how many rows ``packed_calls`` holds

    @property
    def call_count(self) -> int:
        return len(self.calls) + self.packed_count

    @property
    def size(self) -> int:
        return self.call_count + len(self.drops) + len(self.stats)

    def call_rows(self) -> list[CallRow]:
        """Every call row, the packed ones rebuilt (``calls`` first, then each packed part in order)."""
        if not self.packed_calls:
            return self.calls
        rows = list(self.calls)
        for part in self.packed_calls:
            rows.extend(marshal.loads(part))
        return rows


@dataclass(frozen=True, slots=True)
class Refused:
    """Rows of one table that ClickHouse refused on their own, and why."""

    table: str
    rows: list[Any]
    error: str


# Errors raised while *encoding* rows (before anything is sent): a property of the rows, never of storage.
_ROW_ERRORS = (DataError, struct.error, OverflowError, UnicodeError, TypeError, ValueError)
# ClickHouse error codes that say "this value" rather than "this table or server" (any other server
# error, a missing table for one, is an outage: retried whole, never blamed on rows).
_ROW_ERROR_CODES = frozenset({6, 27, 53, 69, 70, 131, 321})
_CODE = re.compile(r"\bCode: (\d+)\b")


def _is_row_error(exc: BaseException) -> bool:
    if isinstance(exc, _ROW_ERRORS):
        return True
    found = _CODE.search(str(exc))
    return found is not None and int(found.group(1)) in _ROW_ERROR_CODES


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


class CallWriter(Protocol):
    """Makes a batch durable in storage, or raises. Must be safe to call again with the same batch.

    ``write`` returns the rows storage refused on their own (poison), if any; ``known_keys`` returns
    which of ``keys`` are stored already (``call_keys``).
    """

    def write(self, batch: Batch) -> list[Refused]: ...

    def ping(self) -> None: ...

    def known_keys(self, keys: list[int]) -> set[int]: ...


KNOWN_KEYS_SQL = "SELECT DISTINCT key FROM call_keys WHERE key IN {keys:Array(UInt64)}"


class ClickHouseWriter:
    """Inserts batches through the process's one clickhouse-connect client."""

    def __init__(self, client: Any, observe_latency: Any = None) -> None:
        self._client = client
        self._observe = observe_latency
        self._lookup_settings: dict[str, int] | None = None  # asked of the server at the first look-up

    def write(self, batch: Batch) -> list[Refused]:
        started = time.perf_counter()
        refused: list[Refused] = []
        # The rows rebuilt from packed parts die with the insert, as its column lists do (``_insert``).
        with cycle_collection_paused():
            for table, columns, rows in (
                ("llm_calls", LLM_CALLS_COLUMNS, batch.call_rows()),
                ("call_keys", KEY_COLUMNS, batch.keys),
                ("sdk_drops", DROP_COLUMNS, batch.drops),
                ("ingest_stats", STATS_COLUMNS, batch.stats),
                ("replay_captures", CAPTURE_COLUMNS, batch.captures),  # after llm_calls: a call first
            ):
                if rows:
                    self._insert_or_split(table, columns, rows, f"{batch.token}:{table}", refused)
        if self._observe is not None:
            self._observe(time.perf_counter() - started)
        return refused

    def _insert_or_split(
        self, table: str, columns: tuple[str, ...], rows: list[Any], token: str, refused: list[Refused]
    ) -> None:
        try:
            self._insert(table, columns, rows, token)
            return
        except Exception as exc:
            if not _is_row_error(exc):
                raise  # the connection, the table or the server, not the rows: retried whole
            self.ping()  # raises when storage is down: then it is an outage, not poison
        self._split(table, columns, rows, token, refused)

    def _split(
        self, table: str, columns: tuple[str, ...], rows: list[Any], token: str, refused: list[Refused]
    ) -> int:
        """Insert ``rows`` in halves until each failing row stands alone; return how many were stored."""
        middle = len(rows) // 2
        stored = 0
        for index, half in enumerate((rows[:middle], rows[middle:])):
            part = f"{token}/{index}"
            try:
                self._insert(table, columns, half, part)
                stored += len(half)
            except Exception as exc:
                if not _is_row_error(exc):
                    raise
                if len(half) == 1:
                    refused.append(Refused(table, half, first_line(exc)))
                else:
                    stored += self._split(table, columns, half, part, refused)
        return stored

    def known_keys(self, keys: list[int]) -> set[int]:
        if not keys:
            return set()
        result = self._client.query(
            KNOWN_KEYS_SQL,
            parameters={"keys": keys},
            settings=self._known_keys_settings(),
        )
        return {row[0] for row in result.result_rows}

    def _known_keys_settings(self) -> dict[str, int]:
        """Keep each look-up out of ClickHouse's query condition cache, where the server has one.

        Every look-up asks for keys never asked before, so each would leave an entry no later query
        reuses: a collector catching up after a crash grew that cache ~0.33 MiB a minute up to its
        100 MiB cap. The setting exists from ClickHouse 25.3 on, and a server refuses a setting it does
        not know (clickhouse-connect passes it through), so the server is asked once whether it has it.
        """
        if self._lookup_settings is None:
            known = self._client.query(
                "SELECT name FROM system.settings WHERE name = {name:String}",
                parameters={"name": "use_query_condition_cache"},
            ).result_rows
            self._lookup_settings = {"use_query_condition_cache": 0} if known else {}
        return self._lookup_settings

    def _insert(self, table: str, columns: tuple[str, ...], rows: list[Any], token: str) -> None:
        # An insert's column lists hold a reference per value (~0.8M for a full-rate batch) and die when
        # it ends: a collection meanwhile would traverse them all for no cycle (measured at full rate,
        # 2.9 → 2.3 µs a call of cycle collection in the collector; docs/performance.md).
        with cycle_collection_paused():
            self._insert_columns(table, columns, rows, token)

    def _insert_columns(self, table: str, columns: tuple[str, ...], rows: list[Any], token: str) -> None:
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
