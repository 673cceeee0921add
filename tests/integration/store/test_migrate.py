"""ClickHouse migrations: ordered, recorded with a checksum, never silently re-applied or diverged."""

from __future__ import annotations

from typing import Any

import pytest

from tiermix_server.errors import MigrationError
from tiermix_server.store.clickhouse import connect
from tiermix_server.store.migrate import Migration, bundled_migrations, migrate


def test_first_run_applies_every_bundled_file_and_creates_the_call_table(settings: Any) -> None:
    client = connect(settings)
    applied = migrate(client, settings)
    assert applied == [m.file_name for m in bundled_migrations()]
    columns = {row[0] for row in client.query("DESCRIBE TABLE llm_calls").result_rows}
    design_fields = {
        "ts", "duration_ms", "ttft_ms", "trace_id", "span_id", "parent_span_id", "request_id", "attempt",
        "final", "escalated", "escalation_reason", "tenant", "route", "environment", "service", "user_hash",
        "provider", "operation", "request_model", "model", "tier", "router", "routing_reason",
        "routing_score", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
        "reasoning_tokens", "cost_usd", "price_source", "unpriced", "status", "error_type",
        "finish_reason", "tags",
    }  # fmt: skip
    assert design_fields <= columns


def test_second_run_is_a_no_op(clickhouse: Any, settings: Any) -> None:
    before = clickhouse.query("SELECT count() FROM schema_migrations").result_rows[0][0]
    assert migrate(clickhouse, settings) == []
    after = clickhouse.query("SELECT count() FROM schema_migrations").result_rows[0][0]
    assert before == after == len(bundled_migrations())


def test_an_edited_applied_migration_stops_the_run_naming_the_file(clickhouse: Any, settings: Any) -> None:
    edited = [
        Migration(m.version, m.name, m.sql + "\n-- edited after release\n") if m.version == 1 else m
        for m in bundled_migrations()
    ]
    with pytest.raises(MigrationError, match=r"0001_llm_calls\.sql was edited"):
        migrate(clickhouse, settings, edited)


def test_a_new_migration_is_applied_after_the_released_ones(clickhouse: Any, settings: Any) -> None:
    extra = Migration(9999, "probe", "CREATE TABLE IF NOT EXISTS probe (x UInt8) ENGINE = Memory")
    assert migrate(clickhouse, settings, [*bundled_migrations(), extra]) == ["9999_probe.sql"]
    assert clickhouse.query("EXISTS TABLE probe").result_rows[0][0] == 1


def test_a_failing_statement_names_the_file_and_is_not_recorded(clickhouse: Any, settings: Any) -> None:
    broken = Migration(9998, "broken", "CREATE TABLE broken (x NoSuchType) ENGINE = Memory")
    with pytest.raises(MigrationError, match=r"9998_broken\.sql failed"):
        migrate(clickhouse, settings, [*bundled_migrations(), broken])
    versions = [row[0] for row in clickhouse.query("SELECT version FROM schema_migrations").result_rows]
    assert 9998 not in versions


def test_cluster_settings_render_on_cluster_and_replicated_engines(make_settings: Any) -> None:
    clustered = make_settings(clickhouse_cluster="prod")
    statements = bundled_migrations()[0].statements(clustered)
    assert "ON CLUSTER prod" in statements[0]
    assert "ReplicatedReplacingMergeTree" in statements[0]


def test_every_table_has_a_retention_and_it_is_the_configured_one(clickhouse: Any, settings: Any) -> None:
    """Docs promise that rollups and data-health tables follow TIERMIX_RAW_TTL_DAYS like raw calls."""
    tables = clickhouse.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree' AND name != 'schema_migrations'"
    ).result_rows
    assert {name for name, _ in tables} >= {
        "llm_calls", "llm_calls_1m", "llm_calls_1h", "llm_escalations_1m", "llm_escalations_1h",
        "sdk_drops", "ingest_stats", "call_keys", "llm_calls_by_band_1d", "replay_captures", "replay_samples",
        "llm_request_sample_1m",
    }  # fmt: skip
    for name, create in tables:
        if name in ("replay_captures", "replay_samples"):  # per row: TIERMIX_CAPTURE_TTL_DAYS, at write
            assert "TTL expires_at" in create, (name, create)
            continue
        assert "TTL " in create and f"toIntervalDay({settings.raw_ttl_days})" in create, (name, create)
