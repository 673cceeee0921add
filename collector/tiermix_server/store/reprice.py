"""Re-price and re-tier stored calls after a price or tier-map change, rollups included.

``reprice`` recomputes ``cost_usd`` / ``price_source`` / ``unpriced`` of every call since a date (calls
priced by the SDK keep the application's own figure); ``retier`` re-derives ``tier`` / ``tier_source``
(explicit SDK tiers are kept). Both use the same enricher the collector uses, so history ends up exactly
as if it had been ingested under today's prices and tier map.

How, and why this way:
1. Calls are read in time windows of bounded size and their new values computed in Python; only calls
   that change go on.
2. Those values go into a temporary Join-engine table, and one ``ALTER TABLE llm_calls UPDATE ... =
   joinGet(...)`` mutation (synchronous) rewrites exactly those rows.
3. Mutations do not flow through materialized views, so every rollup fed from ``llm_calls`` (found in
   ``system.tables``, so a new rollup is covered without touching this file) is rebuilt for the affected
   (tenant, route, bucket) groups only: delete them, then re-insert them by running that view's own
   SELECT over the raw rows of those buckets.
   Calls arriving for those very groups during the few milliseconds between delete and re-insert may
   be counted twice in the rollup; run this at a quiet moment for exactness (reported as a known limit).
All values travel as server-side parameters or through inserted tables; identifiers are generated here.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from tiermix_server.errors import TiermixError
from tiermix_server.pricing.enricher import Enricher, build_enricher
from tiermix_server.settings import Settings

_READ_COLUMNS = (
    "tenant, span_id, ts, route, provider, model, tier, tier_source, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, price_source, unpriced"
)
_EPSILON_USD = 1e-12
_WINDOW_ROWS = 250_000  # calls read into Python at a time
_FLUSH_ROWS = 1_000_000  # staged changes applied in one mutation (bounds ClickHouse memory)
# chDB defaults to async inserts; what we insert must be readable by the very next statement.
_SYNC_INSERT = {"async_insert": 0}
_BUCKET = re.compile(r"\b(toStartOf\w+)\(ts\) AS bucket\b")
_TARGET = re.compile(r"\bTO\s+(?:`?\w+`?\.)?`?(\w+)`?")


@dataclass(frozen=True, slots=True)
class Rollup:
    """A materialized view fed by ``llm_calls`` and the table it writes to."""

    view: str
    target: str
    select: str  # the view's SELECT, as ClickHouse stores it
    bucket_function: str  # e.g. toStartOfHour: how the view buckets ``ts``


def rollups_of_calls(client: Any, database: str) -> list[Rollup]:
    """Every rollup view reading ``llm_calls`` in ``database``; refuses one this module cannot rebuild."""
    rows = client.query(
        "SELECT name, as_select, create_table_query FROM system.tables "
        "WHERE database = currentDatabase() AND engine = 'MaterializedView' ORDER BY name"
    ).result_rows
    found = []
    for view, select, create in rows:
        if not re.search(rf"\bFROM {re.escape(database)}\.llm_calls\b", select):
            continue
        bucket, target = _BUCKET.search(select), _TARGET.search(create)
        if bucket is None or target is None or not re.search(r"\btenant\b.*\broute\b", select):
            raise TiermixError(
                f"rollup view {view} does not bucket ts into tenant x route x bucket rows; "
                "re-pricing cannot rebuild it, so nothing was changed"
            )
        found.append(Rollup(view, target.group(1), select, bucket.group(1)))
    return found


@dataclass(frozen=True, slots=True)
class RewriteResult:
    scanned: int  # calls looked at
    changed: int  # calls whose stored values changed
    rollup_groups: int  # (tenant, route, minute) groups whose rollup rows were rebuilt

    def as_dict(self) -> dict[str, int]:
        return {"scanned": self.scanned, "changed": self.changed, "rollup_groups": self.rollup_groups}


def reprice(
    client: Any, settings: Settings, meta: Any, since: datetime, tenant: str | None = None
) -> RewriteResult:
    """Recompute stored cost for calls at or after ``since`` (one tenant, or all)."""
    enricher = build_enricher(settings, meta, background=False)

    def new_values(row: tuple[Any, ...]) -> tuple[Any, ...] | None:
        (
            row_tenant,
            _span,
            ts,
            _route,
            provider,
            model,
            _tier,
            _ts_src,
            i,
            o,
            cr,
            cw,
            rz,
            cost,
            source,
            unpriced,
        ) = row
        quote = enricher.quote(_aware(ts), row_tenant, provider, model)
        new_cost = 0.0 if quote.table is None else quote.table.cost(i, o, cr, cw, rz) * quote.factor
        if (
            abs(new_cost - cost) <= _EPSILON_USD
            and quote.source == source
            and quote.unpriced == bool(unpriced)
        ):
            return None
        return (new_cost, quote.source, quote.unpriced)

    return _rewrite(
        client, settings.clickhouse_database, since, tenant, "price_source != 'sdk'",
        (("cost_usd", "Float64"), ("price_source", "String"), ("unpriced", "Bool")), new_values,
    )  # fmt: skip


def retier(
    client: Any, settings: Settings, meta: Any, since: datetime, tenant: str | None = None
) -> RewriteResult:
    """Re-derive tiers from the current tier map for calls at or after ``since`` (SDK tiers are kept)."""
    enricher: Enricher = build_enricher(settings, meta, background=False)
    decisions: dict[tuple[str, str], tuple[str, str]] = {}

    def new_values(row: tuple[Any, ...]) -> tuple[Any, ...] | None:
        provider, model, tier, tier_source = row[4], row[5], row[6], row[7]
        decided = decisions.get((provider, model))
        if decided is None:
            decision = enricher.explain(model, provider)
            decided = decisions[(provider, model)] = (decision.tier, decision.source)
        return None if decided == (tier, tier_source) else decided

    return _rewrite(
        client,
        settings.clickhouse_database,
        since,
        tenant,
        "tier_source != 'sdk'",
        (("tier", "String"), ("tier_source", "String")),
        new_values,
    )


def _aware(ts: datetime) -> datetime:
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts


def _windows(
    client: Any, since: datetime, where: str, params: dict[str, Any]
) -> Iterator[tuple[datetime, datetime]]:
    """Time windows over the matching calls, sized to hold about ``_WINDOW_ROWS`` calls each."""
    bounds = client.query(f"SELECT min(ts), max(ts), count() FROM llm_calls WHERE {where}", parameters=params)  # noqa: S608
    first, last, count = bounds.result_rows[0]
    if not count:
        return
    start = max(_aware(first), since)
    end = _aware(last) + timedelta(microseconds=1)
    step = (end - start) / max(1, math.ceil(count / _WINDOW_ROWS))
    while start < end:
        stop = min(start + step, end)
        yield start, stop
        start = stop


class _Staging:
    """Temporary tables holding new values until one mutation applies them (generated names only)."""

    def __init__(self, client: Any, database: str, columns: tuple[tuple[str, str], ...]) -> None:
        suffix = secrets.token_hex(6)
        self.client, self.database, self.columns = client, database, columns
        self.values, self.keys, self.groups = (
            f"_rewrite_{suffix}",
            f"_rewrite_keys_{suffix}",
            f"_rewrite_groups_{suffix}",
        )
        self.pending = 0
        column_defs = ", ".join(f"{name} {kind}" for name, kind in columns)
        client.command(
            f"CREATE TABLE {self.values} (tenant String, span_id UInt64, {column_defs}) "
            "ENGINE = Join(ANY, LEFT, tenant, span_id)"
        )
        # A Join table keyed on two columns cannot be read back, so the keys to touch live beside it.
        client.command(f"CREATE TABLE {self.keys} (tenant String, span_id UInt64) ENGINE = Memory")
        client.command(
            f"CREATE TABLE {self.groups} (tenant String, route String, minute DateTime('UTC')) "
            "ENGINE = Memory"
        )

    def add(self, updates: list[tuple[Any, ...]]) -> None:
        names = ["tenant", "span_id", *[name for name, _ in self.columns]]
        self.client.insert(self.values, updates, column_names=names, settings=_SYNC_INSERT)
        keys = [update[:2] for update in updates]
        self.client.insert(self.keys, keys, column_names=["tenant", "span_id"], settings=_SYNC_INSERT)
        self.pending += len(updates)

    def apply(self, where: str, params: dict[str, Any]) -> None:
        """Rewrite the staged calls in one synchronous mutation, then empty the staging tables."""
        if not self.pending:
            return
        # Mutations run without a current database: joinGet needs the qualified name (and a String key).
        assignments = ", ".join(
            f"{name} = joinGet('{self.database}.{self.values}', '{name}', toString(tenant), span_id)"
            for name, _ in self.columns
        )
        touched = f"(tenant, span_id) IN (SELECT tenant, span_id FROM {self.keys})"  # noqa: S608
        try:
            self.client.command(
                f"ALTER TABLE llm_calls UPDATE {assignments} WHERE {where} AND {touched}",
                parameters=params,
                settings={"mutations_sync": 2},
            )
        except Exception:
            # A failed mutation stays queued and is retried forever against tables we are about to drop.
            self.client.command(
                "KILL MUTATION WHERE database = currentDatabase() AND table = 'llm_calls' AND NOT is_done"
            )
            raise
        self.client.command(f"TRUNCATE TABLE {self.values}")
        self.client.command(f"TRUNCATE TABLE {self.keys}")
        self.pending = 0

    def rebuild(
        self,
        groups: set[tuple[str, str, datetime]],
        rollups: list[Rollup],
        since: datetime,
        tenant: str | None,
    ) -> None:
        names = ["tenant", "route", "minute"]
        self.client.insert(self.groups, sorted(groups), column_names=names, settings=_SYNC_INSERT)
        for rollup in rollups:
            _rebuild_rollup(self.client, self.database, rollup, self.groups, since, tenant)

    def drop(self) -> None:
        for table in (self.values, self.keys, self.groups):
            self.client.command(f"DROP TABLE IF EXISTS {table}")


def _rewrite(
    client: Any,
    database: str,
    since: datetime,
    tenant: str | None,
    keep_filter: str,
    columns: tuple[tuple[str, str], ...],
    new_values: Callable[[tuple[Any, ...]], tuple[Any, ...] | None],
) -> RewriteResult:
    since = _aware(since)
    where = "ts >= {since:DateTime64(6, 'UTC')} AND " + keep_filter
    params: dict[str, Any] = {"since": since}
    if tenant is not None:
        where += " AND tenant = {tenant:String}"
        params["tenant"] = tenant
    rollups = rollups_of_calls(client, database)  # before any change: refuse what cannot be rebuilt
    staging = _Staging(client, database, columns)
    try:
        scanned = changed = 0
        groups: set[tuple[str, str, datetime]] = set()
        for start, stop in _windows(client, since, where, params):
            window = where + " AND ts >= {start:DateTime64(6, 'UTC')} AND ts < {stop:DateTime64(6, 'UTC')}"
            rows = client.query(
                f"SELECT {_READ_COLUMNS} FROM llm_calls WHERE {window}",  # noqa: S608
                parameters={**params, "start": start, "stop": stop},
            ).result_rows
            scanned += len(rows)
            updates = []
            for row in rows:
                values = new_values(row)
                if values is None:
                    continue
                updates.append((row[0], row[1], *values))
                ts = _aware(row[2])
                groups.add((row[0], row[3], _floor(ts, 60)))
            if updates:
                staging.add(updates)
                changed += len(updates)
            if staging.pending >= _FLUSH_ROWS:  # bound the memory the staged values take in ClickHouse
                staging.apply(where, params)
        if not changed:
            return RewriteResult(scanned, 0, 0)
        staging.apply(where, params)
        staging.rebuild(groups, rollups, since, tenant)
        return RewriteResult(scanned, changed, len(groups))
    finally:
        staging.drop()


def _floor(ts: datetime, bucket_s: int) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % bucket_s, tz=timezone.utc)


def _rebuild_rollup(
    client: Any, database: str, rollup: Rollup, groups_table: str, since: datetime, tenant: str | None
) -> None:
    """Replace the affected buckets of ``rollup`` with what its view computes from the raw table now."""
    bucket = rollup.bucket_function
    # Generated names only (the bucket function was matched as \w+ in the view's own SQL).
    affected = "(tenant, route, bucket) IN (SELECT DISTINCT tenant, route, {f}(minute) FROM {t})"
    affected = affected.replace("{f}", bucket).replace("{t}", groups_table)
    # Read only raw rows that can fall in an affected bucket: from the start of since's bucket on.
    source = f"SELECT * FROM {database}.llm_calls WHERE ts >= {bucket}({{since:DateTime64(6, 'UTC')}})"  # noqa: S608
    params: dict[str, Any] = {"since": since}
    if tenant is not None:
        source += " AND tenant = {tenant:String}"
        params["tenant"] = tenant
    view_select = rollup.select.replace(f"FROM {database}.llm_calls", f"FROM ({source}) AS llm_calls", 1)
    columns = ", ".join(row[0] for row in client.query(f"DESCRIBE TABLE {rollup.target}").result_rows)
    client.command(f"ALTER TABLE {rollup.target} DELETE WHERE {affected}", settings={"mutations_sync": 2})
    client.command(
        f"INSERT INTO {rollup.target} ({columns}) SELECT {columns} FROM ({view_select}) WHERE {affected}",  # noqa: S608
        parameters=params,
        settings=_SYNC_INSERT,
    )
