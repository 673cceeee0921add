"""Fixtures every test tier shares.

chDB runs one embedded engine per process, bound to one data directory for the life of the process
("EmbeddedServer already initialized with path ..."). So the whole test session shares one chDB data
dir, and tests are isolated from each other by ClickHouse *database* instead: ``make_settings()`` gives
each test its own database name and its own metadata/spool directory.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_database_counter = itertools.count()
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def make_settings(chdb_dir: Path, tmp_path: Path) -> Callable[..., Any]:
    """Build server ``Settings`` for this test: shared chDB engine, private database and data dir."""
    from tiermix_server.settings import Settings

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "clickhouse_url": f"chdb://{chdb_dir}",
            "clickhouse_database": f"t{os.getpid()}_{next(_database_counter)}",
            "port": free_port(),
            "dashboard_port": free_port(),
            "alerts_enabled": False,
        }
        values.update(overrides)
        return Settings(**values)

    return factory


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> Any:
    return make_settings()


@pytest.fixture
def clickhouse(settings: Any) -> Iterator[Any]:
    """A migrated ClickHouse database private to this test."""
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    client = connect(settings)
    migrate(client, settings)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the session's throwaway PostgreSQL cluster (``scripts/postgres.sh``, Debian's packages).

    CI requires the PostgreSQL runs, so when the cluster cannot start the tests that need it fail;
    nothing is skipped.
    """
    started = subprocess.run(
        [str(REPO / "scripts" / "postgres.sh"), "start"], capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        pytest.fail(f"could not start PostgreSQL for the tests:\n{started.stderr[-3000:]}", pytrace=False)
    lines = started.stdout.strip().splitlines()
    directory = lines[0].removeprefix("dir=")
    try:
        yield lines[-1]
    finally:
        subprocess.run([str(REPO / "scripts" / "postgres.sh"), "stop", directory], timeout=120, check=False)
