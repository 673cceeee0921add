"""A real collector seeded with known synthetic calls, and a tiny HTTP client for it (see conftest.py).

The data spans 21:37:13.5 → 02:11:47 across a UTC midnight, so ranges stitch raw rows, minute and hour
rollups, and buckets cross hour and day boundaries. Rows go in as many small inserts, so rollups hold
unmerged parts (queries must sum, never trust one row per key).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.support.calls import CallRow, insert_calls


@dataclass(frozen=True, slots=True)
class Api:
    url: str
    rows: list[CallRow]
    start: datetime  # first generated timestamp
    end: datetime  # generation end (exclusive)
    client: Any

    def get(self, path: str, **query: Any) -> Any:
        status, body = self.fetch(path, **query)
        assert status == 200, (status, body)
        return json.loads(body)

    def fetch(self, path: str, headers: dict[str, str] | None = None, **query: Any) -> tuple[int, str]:
        params = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in query.items() if v is not None}
        url = f"{self.url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        request = urllib.request.Request(url, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def day_before_yesterday() -> datetime:
    # recent enough that the tables' TTL (90 days) never drops the seeded rows
    now = datetime.now(timezone.utc)
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)


def seeded_settings(chdb_dir: Path, data_dir: Path) -> Any:
    from tiermix_server.settings import Settings

    return Settings(
        data_dir=data_dir,
        clickhouse_url=f"chdb://{chdb_dir}",
        clickhouse_database=f"api_{os.getpid()}_{free_port()}",
        port=free_port(),
        dashboard_port=free_port(),
        alerts_enabled=False,
    )


@contextmanager
def seeded_server(
    chdb_dir: Path, data_dir: Path, rows: Sequence[CallRow], *, batch_rows: int
) -> Iterator[tuple[str, Any]]:
    """A migrated database of its own holding ``rows`` (in ``batch_rows`` inserts), served over HTTP:
    yields (url, ClickHouse client); the database is dropped afterwards."""
    from tests.support.server import running_server
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = seeded_settings(chdb_dir, data_dir)
    client = connect(settings)
    migrate(client, settings)
    insert_calls(client, rows, batch_rows=batch_rows)
    try:
        with running_server(settings) as url:
            yield url, client
    finally:
        client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
