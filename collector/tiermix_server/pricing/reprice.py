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
   ``system.tables``, so a new rollup is covered without touching this file) gets the *difference*: the
   changed calls are copied aside before the mutation, and after it one INSERT per rollup adds that
   view's own SELECT over the changed calls as they are now, minus the same SELECT over their old copy
   (summing rollups take negative rows; UInt64 counters wrap and sum back exactly). Nothing is deleted,
   so calls arriving meanwhile — in any group — keep their rollup rows and are counted exactly once.
4. One rewrite at a time per database, across replicas: a lease in the metadata DB
   (``meta/lease.py``), renewed as the work goes on. A second re-price (a client retrying after a
   timeout) is refused with 409 instead of doubling the rollups.
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
from tiermix_server.meta.lease import Lease, rewrite_lock
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


class RewriteInProgress(TiermixError):
    """Another re-price or re-tier of this database is running (409): retry when it has finished."""

    http_status = 409
    code = "rewrite_in_progress"


_LEASE_TTL_S = 300.0  # renewed at every window: a holder that died frees the database this soon


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
        if quote.table is None and source == "peer":
            return None  # still no price: the instrumentation's own figure stays (ingest/enrich.py)
        new_cost = 0.0 if quote.table is None else quote.table.cost(i, o, cr, cw, rz) * quote.factor
        if (
            abs(new_cost - cost) <= _EPSILON_USD
            and quote.source == source
            and quote.unpriced == bool(unpriced)
        ):
            return None
        return (new_cost, quote.source, quote.unpriced)

    # The application's own cost and a call without usage are not the price book's to change.
    return _rewrite(
        client, meta, settings.clickhouse_database, since, tenant,
        "price_source NOT IN ('sdk', 'no_usage')",
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
        meta,
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
        self.values, self.keys, self.old = (
            f"_rewrite_{suffix}",
            f"_rewrite_keys_{suffix}",
            f"_rewrite_old_{suffix}",
        )
        self.pending = 0
        column_defs = ", ".join(f"{name} {kind}" for name, kind in columns)
        client.command(
            f"CREATE TABLE {self.values} (tenant String, span_id UInt64, {column_defs}) "
            "ENGINE = Join(ANY, LEFT, tenant, span_id)"
        )
        # A Join table keyed on two columns cannot be read back, so the keys to touch live beside it.
        client.command(f"CREATE TABLE {self.keys} (tenant String, span_id UInt64) ENGINE = Memory")
        # The changed calls as they were, for the rollups' differences.
        client.command(f"CREATE TABLE {self.old} AS llm_calls ENGINE = Memory")

    def add(self, updates: list[tuple[Any, ...]]) -> None:
        names = ["tenant", "span_id", *[name for name, _ in self.columns]]
        self.client.insert(self.values, updates, column_names=names, settings=_SYNC_INSERT)
        keys = [update[:2] for update in updates]
        self.client.insert(self.keys, keys, column_names=["tenant", "span_id"], settings=_SYNC_INSERT)
        self.pending += len(updates)

    def apply(self, where: str, params: dict[str, Any], rollups: list[Rollup]) -> None:
        """Rewrite the staged calls in one synchronous mutation, add the rollups' differences, then empty
        the staging tables."""
        if not self.pending:
            return
        # Mutations run without a current database: joinGet needs the qualified name (and a String key).
        assignments = ", ".join(
            f"{name} = joinGet('{self.database}.{self.values}', '{name}', toString(tenant), span_id)"
            for name, _ in self.columns
        )
        touched = f"(tenant, span_id) IN (SELECT tenant, span_id FROM {self.keys})"  # noqa: S608
        self.client.command(
            f"INSERT INTO {self.old} SELECT * FROM llm_calls WHERE {where} AND {touched}",  # noqa: S608
            parameters=params,
            settings=_SYNC_INSERT,
        )
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
        now = f"SELECT * FROM {self.database}.llm_calls WHERE {touched}"  # noqa: S608
        was = f"SELECT * FROM {self.database}.{self.old}"  # noqa: S608
        for rollup in rollups:
            _add_difference(self.client, self.database, rollup, now, was)
        for table in (self.values, self.keys, self.old):
            self.client.command(f"TRUNCATE TABLE {table}")
        self.pending = 0

    def drop(self) -> None:
        for table in (self.values, self.keys, self.old):
            self.client.command(f"DROP TABLE IF EXISTS {table}")


def _rewrite(
    client: Any,
    meta: Any,
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
    lease = Lease(meta, ttl_s=_LEASE_TTL_S, name=rewrite_lock(database))
    if not lease.acquire():
        holder = lease.current_holder()
        raise RewriteInProgress(
            f"another re-price or re-tier of database {database!r} is running"
            + (f" ({holder[0]})" if holder else "")
            + "; try again when it has finished"
        )
    try:
        return _rewrite_held(client, lease, database, since, where, params, rollups, columns, new_values)
    finally:
        lease.release()


def _rewrite_held(
    client: Any,
    lease: Lease,
    database: str,
    since: datetime,
    where: str,
    params: dict[str, Any],
    rollups: list[Rollup],
    columns: tuple[tuple[str, str], ...],
    new_values: Callable[[tuple[Any, ...]], tuple[Any, ...] | None],
) -> RewriteResult:
    staging = _Staging(client, database, columns)
    try:
        scanned = changed = 0
        groups: set[tuple[str, str, datetime]] = set()
        for start, stop in _windows(client, since, where, params):
            _renew(lease, database)
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
                staging.apply(where, params, rollups)
        if not changed:
            return RewriteResult(scanned, 0, 0)
        _renew(lease, database)
        staging.apply(where, params, rollups)
        return RewriteResult(scanned, changed, len(groups))
    finally:
        staging.drop()


def _floor(ts: datetime, bucket_s: int) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % bucket_s, tz=timezone.utc)


def _renew(lease: Lease, database: str) -> None:
    if not lease.acquire():
        raise RewriteInProgress(f"lost the rewrite lease of database {database!r} to another process")


def _add_difference(client: Any, database: str, rollup: Rollup, now: str, was: str) -> None:
    """Add ``rollup``'s rows for the changed calls as they are now, minus their rows as they were."""
    described = client.query(
        "SELECT name, type, is_in_sorting_key FROM system.columns "
        "WHERE database = currentDatabase() AND table = {table:String} ORDER BY position",
        parameters={"table": rollup.target},
    ).result_rows
    plus, minus = [], []
    for name, kind, in_key in described:
        if in_key:
            plus.append(name)
            minus.append(name)
        elif kind.startswith(("UInt", "Int")):
            # Int64 on both sides so UNION ALL has one type; the insert wraps negatives into UInt64.
            plus.append(f"toInt64({name}) AS {name}")
            minus.append(f"negate(toInt64({name})) AS {name}")
        else:
            plus.append(name)
            minus.append(f"negate({name}) AS {name}")
    source = f"FROM {database}.llm_calls"
    view_now = rollup.select.replace(source, f"FROM ({now}) AS llm_calls", 1)
    view_was = rollup.select.replace(source, f"FROM ({was}) AS llm_calls", 1)
    names = ", ".join(name for name, _kind, _key in described)
    client.command(
        f"INSERT INTO {rollup.target} ({names}) "  # noqa: S608 - generated names, the view's own SQL
        f"SELECT {', '.join(plus)} FROM ({view_now}) UNION ALL SELECT {', '.join(minus)} FROM ({view_was})",
        settings=_SYNC_INSERT,
    )
