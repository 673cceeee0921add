"""The ``tiermix`` command as a user runs it: subprocesses, real data dirs, exit codes and messages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
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
        'SETTINGS mutations_sync = 2")'
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


def _wait_for(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_up_serves_collector_and_dashboard_and_stops_both_on_a_signal(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    from tests.conftest import free_port

    port, dashboard_port = free_port(), free_port()
    log = (tmp_path / "up.log").open("wb")  # a file, not a pipe nobody reads (it could fill and block)
    process = subprocess.Popen(
        [sys.executable, "-m", "tiermix_server.cli", "up", "--data-dir", str(tmp_path),
         "--port", str(port), "--dashboard-port", str(dashboard_port)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", 120)
        _wait_for(f"http://127.0.0.1:{dashboard_port}/_stcore/health", 120)
        dashboard_pids = _children(process.pid)
        assert dashboard_pids, "the dashboard child is not running"
        process.send_signal(stop_signal)
        process.wait(timeout=60)
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{pid}").exists() for pid in dashboard_pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = [pid for pid in dashboard_pids if Path(f"/proc/{pid}/status").exists()
                 and "zombie" not in Path(f"/proc/{pid}/status").read_text()]  # fmt: skip
        assert not alive, "the dashboard outlived `tiermix up`"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
