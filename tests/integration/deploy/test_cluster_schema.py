"""The cluster schema's local half, executed in chDB (no ClickHouse cluster can run here).

``ON CLUSTER``, ``Replicated`` engines and ``Distributed`` tables need a real cluster; what can run
here is everything else the rewrite produced: the ``_local`` tables and the materialized views that
must now read and write them. A wrong rename (a view still reading ``llm_calls``) fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tiermix_server.store.clickhouse import connect
from tiermix_server.store.migrate import bundled_migrations, planned_statements


def single_node_equivalent(statement: str, cluster: str) -> str | None:
    # Distributed tables, and backfills that read and write them, need the cluster itself
    if "ENGINE = Distributed(" in statement or statement.lstrip().upper().startswith("INSERT INTO"):
        return None
    return statement.replace(f" ON CLUSTER {cluster}", "").replace("ENGINE = Replicated", "ENGINE = ")


def test_local_tables_and_views_of_the_cluster_schema_run_and_roll_up(
    make_settings: Callable[..., Any],
) -> None:
    settings = make_settings(clickhouse_cluster="tmx")
    client = connect(settings.model_copy(update={"clickhouse_cluster": ""}))
    try:
        planned = planned_statements(bundled_migrations(), settings)
        for version in sorted(planned):
            for statement in planned[version]:
                runnable = single_node_equivalent(statement, "tmx")
                if runnable is not None:
                    client.command(runnable)
        client.command(
            "INSERT INTO llm_calls_local (ts, span_id, request_id, tenant, route, model, tier, final, "
            "cost_usd) VALUES (now64(6), 1, 1, 'acme', 'support.answer', 'gpt-4.1-mini', 'small', true, 0.5)"
        )
        hourly = client.query(
            "SELECT tenant, calls, requests, cost_usd FROM llm_calls_1h_local FINAL"
        ).result_rows
        assert hourly == [("acme", 1, 1, 0.5)]
        banded = client.query("SELECT tenant, calls, first, cost_usd FROM llm_calls_by_band_1d_local FINAL")
        assert banded.result_rows == [("acme", 1, 1, 0.5)]
        tables = {row[0] for row in client.query("SHOW TABLES").result_rows}
        assert {
            "llm_calls_local",
            "llm_calls_1m_local",
            "llm_calls_1h_local",
            "sdk_drops_local",
            "ingest_stats_local",
        } <= tables
        assert "llm_calls" not in tables  # the Distributed half is what a real cluster adds
    finally:
        client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
