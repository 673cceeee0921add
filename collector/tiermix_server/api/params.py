"""Query-string parsing for ``/api/v1/*``: strings in, validated values (``Filters``, ``GroupBy``…) out.

Everything a client can get wrong becomes ``BadRequest`` (400, JSON error) here, before any SQL runs:
unparseable dates, ``start`` after ``end``, unknown ``group_by`` / ``by`` / ``interval`` / ``format``,
a range too large for the interval. Values never reach SQL as text (see metrics/filters.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from tiermix_server.errors import BadRequest
from tiermix_server.metrics.filters import (
    DEFAULT_BOTTOM_TIER,
    DEFAULT_TOP_TIER,
    GROUP_COLUMNS,
    Filters,
    GroupBy,
)
from tiermix_server.store.clickhouse import EARLIEST, LATEST

DEFAULT_RANGE = timedelta(hours=24)
MAX_TEXT_CHARS = 256
# interval -> the widest range it may cover (keeps a response to a few thousand buckets at most)
MAX_RANGE = {
    "1m": timedelta(days=2),
    "1h": timedelta(days=93),
    "1d": timedelta(days=3660),
    "": timedelta(days=3660),
}
_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class UnknownTenant(BadRequest):
    code = "unknown_tenant"


def text(query: Mapping[str, str], name: str) -> str | None:
    """An optional string parameter; empty means absent."""
    value = query.get(name)
    if value is None or value == "":
        return None
    if len(value) > MAX_TEXT_CHARS:
        raise BadRequest(f"{name} is longer than {MAX_TEXT_CHARS} characters")
    return value


def choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = query.get(name) or default
    if value not in allowed:
        raise BadRequest(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


MAX_ID = 2**63 - 1  # the metadata DB's integer ids (SQLite and PostgreSQL BIGINT)


def row_id(value: object, name: str) -> int:
    """A metadata-DB id from a path or query: a whole number from 1 to 2^63 - 1, else 400."""
    text_value = str(value)
    if (
        not text_value.isascii()
        or not text_value.isdigit()
        or len(text_value) > 19
        or not 0 < int(text_value) <= MAX_ID
    ):
        raise BadRequest(f"{name} must be a whole number from 1 to {MAX_ID}")
    return int(text_value)


def timestamp(value: str, name: str) -> datetime:
    """ISO-8601; a date means its midnight; no offset means timezone.utc; within what tables can hold."""
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"{name}={value[:64]!r} is not an ISO-8601 time (e.g. 2026-11-24T10:00:00Z)"
        ) from None
    parsed = parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    if not EARLIEST <= parsed <= LATEST:  # what the tables can hold (store/clickhouse.py)
        raise BadRequest(
            f"{name}={value[:64]!r} is outside the times tiermix can store "
            f"({EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d})"
        )
    return parsed


def duration(query: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    """``15m``, ``6h``, ``1d``, ``2w`` …"""
    value = query.get(name)
    if not value:
        return default
    match = _DURATION.match(value)
    if match is None or int(match.group(1)) == 0:
        raise BadRequest(f"{name}={value[:32]!r} is not a duration like 15m, 6h, 1d or 2w")
    return timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])


def filters(
    query: Mapping[str, str],
    now: Callable[[], datetime],
    interval: str = "",
    tier_ends: tuple[str, str] = (DEFAULT_BOTTOM_TIER, DEFAULT_TOP_TIER),
) -> Filters:
    """The common filters of every endpoint; the range is checked against ``interval``'s maximum.

    ``tier_ends`` is (bottom, top) of the tier map in force; ``top_tier`` / ``bottom_tier`` in the query
    override them (what-if: "what share went to mid or above")."""
    # The default end is now rounded up to the next whole minute: nothing exists after now, so the answer
    # is the same, and an aligned range reads rollups only (no raw edge).
    end = timestamp(query["end"], "end") if query.get("end") else _next_minute(now().astimezone(timezone.utc))
    start = timestamp(query["start"], "start") if query.get("start") else end - DEFAULT_RANGE
    if start > end:
        raise BadRequest(f"start ({start.isoformat()}) is after end ({end.isoformat()})")
    widest = MAX_RANGE[interval]
    if end - start > widest:
        shown = f"interval={interval}" if interval else "this endpoint"
        raise BadRequest(f"the range is too large for {shown}: at most {widest.days} days")
    return Filters(
        start=start,
        end=end,
        tenant=text(query, "tenant"),
        route=text(query, "route"),
        environment=text(query, "environment"),
        model=text(query, "model"),
        tier=text(query, "tier"),
        top_tier=text(query, "top_tier") or tier_ends[1],
        bottom_tier=text(query, "bottom_tier") or tier_ends[0],
    )


def _next_minute(value: datetime) -> datetime:
    floored = value.replace(second=0, microsecond=0)
    return floored if floored == value else floored + timedelta(minutes=1)


def group_by(query: Mapping[str, str]) -> GroupBy:
    value = query.get("group_by") or ""
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [name for name in names if name not in GROUP_COLUMNS]
    if unknown:
        raise BadRequest(f"group_by={value[:64]!r}: can group by {', '.join(GROUP_COLUMNS)}")
    return GroupBy(names)


def threshold(query: Mapping[str, str], name: str, default: float) -> float:
    value = query.get(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise BadRequest(f"{name}={value[:32]!r} is not a number") from None
    if not 0 <= number < 1e6:
        raise BadRequest(f"{name} must be between 0 and 1e6")
    return number


def integer(query: Mapping[str, str], name: str, default: int, lowest: int, highest: int) -> int:
    value = query.get(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name}={value[:32]!r} is not an integer") from None
    if not lowest <= number <= highest:
        raise BadRequest(f"{name} must be between {lowest} and {highest}")
    return number


def hex_id(value: str, name: str) -> int:
    """A 16-hex-digit id (span or request id) as the UInt64 it is stored as."""
    if not re.fullmatch(r"[0-9a-fA-F]{1,16}", value):
        raise BadRequest(f"{name} must be up to 16 hex digits")
    return int(value, 16)


def time_param(value: Any, name: str) -> datetime | None:
    """An optional ISO-8601 time from a JSON body (no offset means UTC)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be an ISO-8601 time")
    return timestamp(value, name)
