"""The cluster variant of the ClickHouse schema: sharded local tables behind Distributed tables.

On a single node the migration files run as written. With ``TIERMIX_CLICKHOUSE_CLUSTER`` set, every
table a migration creates is created as ``<name>_local`` on every node (``ON CLUSTER``, a
``Replicated*MergeTree`` engine: the files' ``{on_cluster}`` / ``{replicated}`` placeholders), and
``<name>`` becomes a ``Distributed`` table over it. Everything above the schema keeps reading and
writing ``llm_calls``, ``llm_calls_1h``, …: a write to a Distributed table is routed to a shard, a read
fans out to all shards. Materialized views are rewritten to read and write the *local* tables, so each
shard rolls up its own rows and the Distributed rollup tables sum across shards at query time.

Invariants: table names in the files are rewritten word for word (so no column may be named like a
table); ``llm_calls`` and ``sdk_drops`` are sharded by ``sipHash64(span_id)``, so a replayed span lands
on the shard that already holds it and ``ReplacingMergeTree`` collapses it there; tables only written by
materialized views or with summing counters shard by ``rand()``.
"""

from __future__ import annotations

import re

LOCAL_SUFFIX = "_local"
SHARDING_KEYS = {
    "llm_calls": "sipHash64(span_id)",
    "sdk_drops": "sipHash64(span_id)",
    "call_keys": "key",
    "replay_captures": "sipHash64(span_id)",  # ReplacingMergeTree: a replay must reach the same shard
    "replay_samples": "sipHash64(span_id)",
    "bill_days": "sipHash64(source, day)",  # ReplacingMergeTree: a day's syncs must meet on one shard
}
DEFAULT_SHARDING_KEY = "rand()"

_IDENT = r"([A-Za-z_][A-Za-z0-9_]*)"
_CREATE_TABLE = re.compile(rf"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_IDENT}", re.IGNORECASE)
_ALTER_TABLE = re.compile(rf"^\s*ALTER\s+TABLE\s+{_IDENT}", re.IGNORECASE)
_DROP_TABLE = re.compile(rf"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_IDENT}", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\b", re.IGNORECASE)
_COLUMN_CHANGE = re.compile(r"\b(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.IGNORECASE)


def distributed_table(name: str, cluster: str, database: str) -> str:
    key = SHARDING_KEYS.get(name, DEFAULT_SHARDING_KEY)
    local = name + LOCAL_SUFFIX
    return (
        f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER {cluster} AS {local} "
        f"ENGINE = Distributed({cluster}, {database}, {local}, {key})"
    )


def to_local(statement: str, tables: set[str]) -> str:
    """``statement`` with every known table name replaced by its ``_local`` name."""
    if not tables:
        return statement
    names = "|".join(sorted((re.escape(t) for t in tables), key=len, reverse=True))
    return re.sub(rf"\b({names})\b", rf"\1{LOCAL_SUFFIX}", statement)


def shard_statements(statements: list[str], cluster: str, database: str, tables: set[str]) -> list[str]:
    """Rewrite one migration's rendered statements for a cluster.

    ``tables`` holds the tables created by earlier migrations and is updated in place, so a later
    migration that alters or reads ``llm_calls`` is rewritten too.
    """
    out: list[str] = []
    for statement in statements:
        if _INSERT.match(statement):
            out.append(statement)  # a backfill: Distributed to Distributed reads and spreads every shard
            continue
        created = _CREATE_TABLE.match(statement)
        if created:
            tables.add(created.group(1))
        dropped = _DROP_TABLE.match(statement)
        if dropped and dropped.group(1) in tables:
            out.append(statement)  # the Distributed table first: nothing may route to a dropped table
        out.append(to_local(statement, tables))
        if created:
            out.append(distributed_table(created.group(1), cluster, database))
        altered = _ALTER_TABLE.match(statement)
        if altered and altered.group(1) in tables and _COLUMN_CHANGE.search(statement):
            out.append(statement)  # a Distributed table must keep the columns of its local table
    return out
