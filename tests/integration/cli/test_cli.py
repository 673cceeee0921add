"""The ``tiermix`` command as a user runs it: subprocesses, real data dirs, exit codes and messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def tiermix(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tiermix_server.cli", *args],
        capture_output=True, text=True, env=full_env, timeout=timeout_s, check=False,
    )  # fmt: skip


def test_bad_clickhouse_url_stops_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    result = tiermix("migrate", "--data-dir", str(tmp_path), env={"TIERMIX_CLICKHOUSE_URL": "ftp://nowhere"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tiermix: error: invalid setting TIERMIX_CLICKHOUSE_URL")
    assert "Traceback" not in result.stderr


def test_migrate_twice_is_a_no_op_and_an_edited_migration_is_refused(tmp_path: Path) -> None:
    first = tiermix("migrate", "--data-dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "applied 0001_llm_calls.sql" in first.stdout
    second = tiermix("migrate", "--data-dir", str(tmp_path))
    assert second.returncode == 0, second.stderr
    assert "ClickHouse: up to date" in second.stdout

    # What an edit of 0001 looks like to the runner: the recorded checksum no longer matches the file.
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    tamper = (
        f"import clickhouse_connect; c = clickhouse_connect.get_client(dsn={dsn!r}, database='tiermix'); "
        "c.command(\"ALTER TABLE schema_migrations UPDATE checksum = 'x' WHERE version = 1 "
        "SETTINGS mutations_sync = 2\")"
    )
    subprocess.run([sys.executable, "-c", tamper], check=True, timeout=60)
    edited = tiermix("migrate", "--data-dir", str(tmp_path))
    assert edited.returncode == 2
    assert "0001_llm_calls.sql was edited after it was applied" in edited.stderr
    assert "Traceback" not in edited.stderr


@pytest.mark.parametrize("command", ["up", "collector", "dashboard", "migrate"])
def test_every_documented_server_command_has_help(command: str) -> None:
    result = tiermix(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: tiermix" in result.stdout
