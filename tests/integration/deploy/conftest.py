"""Fixtures for running docker-compose's services as plain processes (no Docker engine here).

PostgreSQL comes from ``scripts/postgres.sh`` (Debian's packages); there is no usable ClickHouse server
package here (Debian's is 2018's 18.16, too old for clickhouse-connect), so chDB stands in for it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    started = subprocess.run(
        [str(REPO / "scripts" / "postgres.sh"), "start"], capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        pytest.fail(f"could not start PostgreSQL:\n{started.stderr[-3000:]}", pytrace=False)
    lines = started.stdout.strip().splitlines()
    directory = lines[0].removeprefix("dir=")
    try:
        yield lines[-1]
    finally:
        subprocess.run([str(REPO / "scripts" / "postgres.sh"), "stop", directory], timeout=120, check=False)
