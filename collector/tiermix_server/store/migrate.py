"""ClickHouse schema migrations: numbered SQL files, applied in order, recorded with a checksum.

A released migration is never edited: if an applied file's checksum no longer matches, ``migrate``
refuses to run and names the file, because a silently diverging schema is worse than a stopped deploy.
Files are templates: ``{on_cluster}`` becomes ``ON CLUSTER <name>`` and ``{replicated}`` becomes
``Replicated`` when a cluster is configured, so one set of files serves a single node and a cluster.
With a cluster, tables become sharded ``<name>_local`` tables behind ``Distributed`` tables named as in
the files (``store/cluster.py``); on a single node the files run exactly as written.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from tiermix_server.errors import MigrationError
from tiermix_server.settings import Settings

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LEDGER = "schema_migrations"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def file_name(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self, settings: Settings) -> list[str]:
        cluster = settings.clickhouse_cluster
        rendered = self.sql.format(
            on_cluster=f"ON CLUSTER {cluster}" if cluster else "",
            replicated="Replicated" if cluster else "",
            raw_ttl_days=settings.raw_ttl_days,
        )
        return [stmt.strip() for stmt in _split_statements(rendered) if stmt.strip()]


def _split_statements(sql: str) -> list[str]:
    without_comments = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return without_comments.split(";")


def planned_statements(migrations: list[Migration], settings: Settings) -> dict[int, list[str]]:
    """The statements each migration runs, by version (the cluster rewrite needs all earlier files)."""
    from tiermix_server.store.cluster import shard_statements

    cluster = settings.clickhouse_cluster
    tables: set[str] = set()
    planned = {}
    for migration in migrations:
        statements = migration.statements(settings)
        if cluster:
            statements = shard_statements(statements, cluster, settings.clickhouse_database, tables)
        planned[migration.version] = statements
    return planned


def bundled_migrations() -> list[Migration]:
    """The ClickHouse migrations shipped with this version, in order."""
    folder = resources.files("tiermix_migrations") / "clickhouse"
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two ClickHouse migrations share a number: {versions}")
    return found


def migrate(client: Any, settings: Settings, migrations: list[Migration] | None = None) -> list[str]:
    """Apply pending migrations; return the file names applied (empty when up to date)."""
    migrations = bundled_migrations() if migrations is None else migrations
    on_cluster = f"ON CLUSTER {settings.clickhouse_cluster}" if settings.clickhouse_cluster else ""
    engine = "ReplicatedMergeTree" if settings.clickhouse_cluster else "MergeTree"
    client.command(
        f"CREATE TABLE IF NOT EXISTS {_LEDGER} {on_cluster} (version UInt32, name String, "
        f"checksum String, applied_at DateTime('UTC') DEFAULT now()) ENGINE = {engine} ORDER BY version"
    )
    applied = {
        int(row[0]): (row[1], row[2])
        for row in client.query(f"SELECT version, name, checksum FROM {_LEDGER}").result_rows  # noqa: S608
    }
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded[1] != migration.checksum:
            raise MigrationError(
                f"migration {migration.file_name} was edited after it was applied "
                f"(recorded checksum {recorded[1][:12]}, file now {migration.checksum[:12]}); "
                "released migrations are never edited: add a new numbered file instead"
            )
    done = []
    planned = planned_statements(migrations, settings)
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in planned[migration.version]:
            try:
                client.command(statement)
            except Exception as exc:
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise MigrationError(f"migration {migration.file_name} failed: {first_line}") from exc
        client.insert(
            _LEDGER,
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        done.append(migration.file_name)
    return done
