"""What a metric query is about: a frozen filter set, a group-by, and the SQL ``WHERE`` they become.

Every value reaches ClickHouse as a server-side parameter (``{name:Type}``); the only text spliced into
SQL is column names from the fixed ``GROUP_COLUMNS`` / ``FILTER_COLUMNS`` tables below, never input.
Times are UTC ``datetime``s; a range is half-open, ``start <= ts < end``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from tiermix_server.pricing.tiers import default_map_data

# The ends of the shipped tier list (pricing/default_tiers.toml). They only serve callers that have no
# tier map at hand (tests, benchmarks): the API and the alert evaluator pass the configured map's ends
# (pricing.enricher.configured_tier_map).
_SHIPPED_TIERS = default_map_data()[0]
DEFAULT_BOTTOM_TIER = _SHIPPED_TIERS[0].name
DEFAULT_TOP_TIER = _SHIPPED_TIERS[-1].name

# Columns a query may filter or group on; all are key columns of the raw table and the rollups.
FILTER_COLUMNS = ("tenant", "route", "environment", "model", "tier")
GROUP_COLUMNS = ("tenant", "route")
# A replay's own calls (replay/shadow.py). Reserved: no view, alert or opportunity counts them as
# traffic unless it asks for this environment by name.
SHADOW_ENVIRONMENT = "shadow"


@dataclass(frozen=True, slots=True)
class Filters:
    """The scope of one metric query. ``None`` means "all" for the string filters."""

    start: datetime
    end: datetime
    tenant: str | None = None
    route: str | None = None
    environment: str | None = None
    model: str | None = None
    tier: str | None = None
    top_tier: str = DEFAULT_TOP_TIER  # the top of the ordered tier list: what "frontier share" counts
    bottom_tier: str = DEFAULT_BOTTOM_TIER  # the bottom of the list (see summary.py: escalated requests)

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=timezone.utc))
            else:
                object.__setattr__(self, name, value.astimezone(timezone.utc))
        if self.start > self.end:
            raise ValueError("start is after end")

    def with_range(self, start: datetime, end: datetime) -> Filters:
        return replace(self, start=start, end=end)

    def with_tenant(self, tenant: str | None) -> Filters:
        return replace(self, tenant=tenant)


@dataclass(frozen=True, slots=True)
class GroupBy:
    """Zero, one or both of tenant / route, in that order."""

    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [c for c in self.columns if c not in GROUP_COLUMNS]
        if unknown:
            raise ValueError(f"cannot group by {', '.join(unknown)}; use {', '.join(GROUP_COLUMNS)}")
        # Canonical order and no duplicates, so a group key reads the same whatever the caller wrote.
        object.__setattr__(self, "columns", tuple(c for c in GROUP_COLUMNS if c in self.columns))

    @classmethod
    def of(cls, *columns: str) -> GroupBy:
        return cls(tuple(columns))

    def select(self, prefix: str = "") -> str:
        """``tenant, route, `` or empty: a prefix for a SELECT list."""
        return "".join(f"{prefix}{c} AS {c}, " for c in self.columns)

    def group(self, *extra: str) -> str:
        keys = [*self.columns, *extra]
        return f"GROUP BY {', '.join(keys)}" if keys else ""


NO_GROUP = GroupBy()


@dataclass(slots=True)
class Params:
    """Collects server-side parameters; ``add`` returns the ``{name:Type}`` placeholder."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any, type_name: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return "{" + name + ":" + type_name + "}"


def dimension_conditions(filters: Filters, params: Params, prefix: str = "") -> list[str]:
    """Equality conditions for the string filters (shared by raw and rollup sources); without an
    environment filter, every environment but ``shadow``."""
    conditions = []
    for column in FILTER_COLUMNS:
        value = getattr(filters, column)
        if value is not None:
            conditions.append(f"{prefix}{column} = {params.add(value, 'String')}")
    if filters.environment is None:
        conditions.append(f"{prefix}environment != {params.add(SHADOW_ENVIRONMENT, 'String')}")
    return conditions


def raw_where(filters: Filters, params: Params, start: datetime, end: datetime) -> str:
    """``WHERE`` over ``llm_calls AS c`` for ``[start, end)`` and the filters.

    Columns are qualified (``c.ts``) because ClickHouse would otherwise read a name that is also a
    SELECT alias (``uniqExact(request_id) AS escalated``) as that aggregate."""
    conditions = [
        f"c.ts >= {params.add(start, _TS_TYPE)}",
        f"c.ts < {params.add(end, _TS_TYPE)}",
        *dimension_conditions(filters, params, "c."),
    ]
    return "WHERE " + " AND ".join(conditions)


def bucket_where(filters: Filters, params: Params, start: datetime, end: datetime) -> str:
    """``WHERE`` over a rollup for buckets in ``[start, end)`` (both aligned to the rollup's step)."""
    conditions = [
        f"bucket >= {params.add(start, _BUCKET_TYPE)}",
        f"bucket < {params.add(end, _BUCKET_TYPE)}",
        *dimension_conditions(filters, params),
    ]
    return "WHERE " + " AND ".join(conditions)


_TS_TYPE = "DateTime64(6, 'UTC')"
_BUCKET_TYPE = "DateTime('UTC')"
