"""Per-call drill-down: a paged list of raw calls, and one logical request with all its attempts.

Paging is keyset (``(ts, span_id)`` below the last row seen), not OFFSET, so deep pages cost the same as
the first and rows arriving meanwhile never shift a page. The cursor is opaque to clients.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from tiermix_server.metrics.filters import Filters, Params, raw_where
from tiermix_server.metrics.mix import as_utc

# The fields of each row of `/api/v1/calls` and of a request's attempts (docs/api.md).
CALL_LIST_FIELDS = (
    "ts",
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
    "provider",
    "operation",
    "request_model",
    "model",
    "tier",
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
    "duration_ms",
    "ttft_ms",
)
_SELECT = ", ".join(f"c.{name} AS {name}" for name in CALL_LIST_FIELDS)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class BadCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class CallQuery:
    request_id: int | None = None
    status: str | None = None
    provider: str | None = None
    limit: int = 100
    cursor: str | None = None


def encode_cursor(ts: datetime, span_id: int) -> str:
    micros = (as_utc(ts) - _EPOCH) // timedelta(microseconds=1)  # integer maths: floats lose microseconds
    return f"{micros:x}.{span_id:x}"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        micros_hex, span_hex = cursor.split(".")
        micros, span_id = int(micros_hex, 16), int(span_hex, 16)
        if not (0 <= span_id < 2**64 and 0 <= micros < 2**63):
            raise ValueError
        return _EPOCH + timedelta(microseconds=micros), span_id
    except (ValueError, OverflowError, OSError):
        raise BadCursor("cursor is not one this API returned") from None


def call_dict(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["ts"] = as_utc(row["ts"])
    trace = row["trace_id"]
    out["trace_id"] = (trace if isinstance(trace, bytes) else str(trace).encode("latin-1")).hex()
    for name in ("span_id", "parent_span_id", "request_id"):
        out[name] = f"{row[name]:016x}"
    for name in ("routing_score", "ttft_ms", "duration_ms"):
        if out[name] is not None:
            out[name] = round(float(out[name]), 3)
    return out


# Newest first, so the page lies in the last moments of the range: look back this far, then 8x further,
# until the page is full or the whole range was read. Sorting every raw call of a week by time to keep
# 101 of them cost 2 s at 10M calls (bench/dashboard.py, Calls page); the last hour holds the page.
_FIRST_LOOK_BACK = timedelta(hours=1)
_LOOK_BACK_GROWTH = 8


def list_calls(client: Any, filters: Filters, query: CallQuery) -> tuple[list[dict[str, Any]], str | None]:
    """One page of calls, newest first, and the cursor of the next page (``None``: last page)."""
    cursor = decode_cursor(query.cursor) if query.cursor is not None else None
    upper = min(filters.end, cursor[0] + timedelta(microseconds=1)) if cursor else filters.end
    # One request's attempts are a handful of rows anywhere in the range: read it whole at once.
    look_back = _FIRST_LOOK_BACK if query.request_id is None else upper - filters.start
    while True:
        start = max(filters.start, upper - look_back)
        rows = _page(client, filters, query, cursor, start)
        # A window holding more rows than the page holds the newest ones: the page is exact.
        if len(rows) > query.limit or start <= filters.start:
            break
        look_back *= _LOOK_BACK_GROWTH
    next_cursor = None
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        next_cursor = encode_cursor(rows[-1]["ts"], rows[-1]["span_id"])
    return [call_dict(row) for row in rows], next_cursor


def _page(
    client: Any, filters: Filters, query: CallQuery, cursor: tuple[datetime, int] | None, start: datetime
) -> list[dict[str, Any]]:
    params = Params()
    where = raw_where(filters, params, start, filters.end)
    if query.request_id is not None:
        where += f" AND c.request_id = {params.add(query.request_id, 'UInt64')}"
    if query.status is not None:
        where += f" AND c.status = {params.add(query.status, 'String')}"
    if query.provider is not None:
        where += f" AND c.provider = {params.add(query.provider, 'String')}"
    if cursor is not None:
        ts_type = "DateTime64(6, 'UTC')"
        where += (
            f" AND (c.ts, c.span_id) < ({params.add(cursor[0], ts_type)}, {params.add(cursor[1], 'UInt64')})"
        )
    sql = (
        f"SELECT {_SELECT} FROM llm_calls AS c {where} ORDER BY c.ts DESC, c.span_id DESC "
        f"LIMIT 1 BY c.span_id LIMIT {params.add(query.limit + 1, 'UInt32')}"
    )
    return list(client.query(sql, parameters=params.values).named_results())


def request_detail(client: Any, request_id: int, tenant: str | None) -> dict[str, Any] | None:
    """All attempts of one request (any time), ``None`` if unknown or outside ``tenant``."""
    params = Params()
    where = f"WHERE c.request_id = {params.add(request_id, 'UInt64')}"
    if tenant is not None:
        where += f" AND c.tenant = {params.add(tenant, 'String')}"
    sql = (
        f"SELECT {_SELECT} FROM llm_calls AS c {where} "
        "ORDER BY c.attempt, c.ts LIMIT 1 BY c.span_id LIMIT 100"
    )
    rows = [call_dict(row) for row in client.query(sql, parameters=params.values).named_results()]
    if not rows:
        return None
    final = [row for row in rows if row["final"]]
    return {
        "request_id": f"{request_id:016x}",
        "tenant": rows[0]["tenant"],
        "route": rows[0]["route"],
        "calls": len(rows),
        "cost_usd": sum(row["cost_usd"] for row in rows),
        "escalated": any(row["escalated"] for row in rows),
        "failovers": sum(1 for row in rows if row["failover"]),
        "answered": bool(final),
        "final_model": final[-1]["model"] if final else None,
        "final_tier": final[-1]["tier"] if final else None,
        "attempts": rows,
    }
