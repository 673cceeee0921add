"""The cluster variant of the schema: local Replicated tables, Distributed tables over them, ON CLUSTER.

No ClickHouse cluster runs here, so the rendered statements are checked; the single-node path must
stay byte-for-byte what the files say.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tiermix_server.settings import Settings
from tiermix_server.store.cluster import shard_statements, to_local
from tiermix_server.store.migrate import Migration, bundled_migrations, planned_statements


def settings(tmp_path: Path, cluster: str = "") -> Settings:
    return Settings(data_dir=tmp_path, clickhouse_cluster=cluster, clickhouse_database="tmx")


def flat(planned: dict[int, list[str]]) -> list[str]:
    return [statement for version in sorted(planned) for statement in planned[version]]


def test_single_node_statements_are_the_files_as_written(tmp_path: Path) -> None:
    single = settings(tmp_path)
    migrations = bundled_migrations()
    planned = planned_statements(migrations, single)
    assert planned == {m.version: m.statements(single) for m in migrations}
    text = "\n".join(flat(planned))
    assert "ON CLUSTER" not in text and "Distributed" not in text and "_local" not in text
    assert "Replicated" not in text


def test_cluster_creates_each_table_locally_then_a_distributed_table_of_the_same_name(tmp_path: Path) -> None:
    statements = flat(planned_statements(bundled_migrations(), settings(tmp_path, "tmx_cluster")))
    created = [re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", s) for s in statements]
    names = [m.group(1) for m in created if m]
    for table in ("llm_calls", "llm_calls_1m", "llm_calls_1h", "sdk_drops", "ingest_stats"):
        local = f"{table}_local"
        assert names.index(local) < names.index(table), table
        distributed = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {table} "))
        assert distributed.startswith(
            f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER tmx_cluster AS {local} "
        )
        assert f"ENGINE = Distributed(tmx_cluster, tmx, {local}, " in distributed
        local_ddl = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {local} "))
        assert "ON CLUSTER tmx_cluster" in local_ddl and "ENGINE = Replicated" in local_ddl


def test_calls_and_drop_reports_shard_by_span_id_so_replays_land_on_the_same_shard(tmp_path: Path) -> None:
    statements = flat(planned_statements(bundled_migrations(), settings(tmp_path, "c")))
    for table in ("llm_calls", "sdk_drops"):
        ddl = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER"))
        assert ddl.endswith(f"{table}_local, sipHash64(span_id))")


def test_materialized_views_read_and_write_local_tables_on_every_node(tmp_path: Path) -> None:
    migrations = bundled_migrations()
    statements = flat(planned_statements(migrations, settings(tmp_path, "c")))
    tables = {m.group(1) for s in flat(planned_statements(migrations, settings(tmp_path))) if (
        m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", s))}  # fmt: skip
    views = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) >= 2
    for view in views:
        assert "ON CLUSTER c" in view
        assert re.search(r"\bTO \w+_local AS\b", view)
        # every rollup reads the raw calls, except the daily one, fed by the hourly rollup (0009)
        assert re.search(r"\bFROM (llm_calls|llm_calls_1h)_local\b", view)
        for table in tables:  # no reference left to a Distributed table
            assert not re.search(rf"\b{table}\b", view), table
        assert not re.search(r"_mv_local\b", view)  # view names are not tables


def test_a_later_migration_altering_a_table_alters_both_local_and_distributed(tmp_path: Path) -> None:
    later = Migration(
        9000, "add_column", "ALTER TABLE llm_calls {on_cluster} ADD COLUMN IF NOT EXISTS x UInt8"
    )
    planned = planned_statements([*bundled_migrations(), later], settings(tmp_path, "c"))
    assert planned[9000] == [
        "ALTER TABLE llm_calls_local ON CLUSTER c ADD COLUMN IF NOT EXISTS x UInt8",
        "ALTER TABLE llm_calls ON CLUSTER c ADD COLUMN IF NOT EXISTS x UInt8",
    ]


def test_dropping_a_table_drops_the_distributed_table_first(tmp_path: Path) -> None:
    tables = {"ingest_stats"}
    assert shard_statements(["DROP TABLE IF EXISTS ingest_stats ON CLUSTER c"], "c", "db", tables) == [
        "DROP TABLE IF EXISTS ingest_stats ON CLUSTER c",
        "DROP TABLE IF EXISTS ingest_stats_local ON CLUSTER c",
    ]


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT llm_calls.cost_usd FROM llm_calls", "SELECT llm_calls_local.cost_usd FROM llm_calls_local"),
        ("CREATE TABLE t AS llm_calls_1m", "CREATE TABLE t AS llm_calls_1m_local"),
        (
            "CREATE MATERIALIZED VIEW llm_calls_1m_mv TO llm_calls_1m",
            "CREATE MATERIALIZED VIEW llm_calls_1m_mv TO llm_calls_1m_local",
        ),
    ],
)
def test_table_names_are_rewritten_word_for_word(statement: str, expected: str) -> None:
    assert to_local(statement, {"llm_calls", "llm_calls_1m"}) == expected
