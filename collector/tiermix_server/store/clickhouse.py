"""The one ClickHouse client of a process.

Embedded (``chdb:///dir``) and served (``http://host:8123``) ClickHouse go through the same
clickhouse-connect client API, so nothing above this module knows which one it talks to. chDB allows one
process per data directory; opening a directory another process holds fails deep inside the engine, so
that failure is translated here into ``DataDirInUse`` with a message a user can act on.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tiermix_server.errors import DataDirInUse, StorageUnavailable
from tiermix_server.settings import Settings

# The instants the tables can hold: rollup buckets are ClickHouse DateTime (1970 to 2106), raw calls
# DateTime64. A query or a price dated outside this is refused with a 400, never sent to ClickHouse.
EARLIEST = datetime(1970, 1, 2, tzinfo=timezone.utc)
LATEST = datetime(2105, 12, 1, tzinfo=timezone.utc)

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def connect(settings: Settings, *, create_database: bool = True) -> Any:
    """Return the process-wide client for ``settings`` (created once, then reused)."""
    key = (settings.clickhouse_url, settings.clickhouse_database)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _open(settings, create_database=create_database)
            _clients[key] = client
        return client


def close_all() -> None:
    """Forget every cached client (tests and clean shutdown)."""
    with _clients_lock:
        for client in _clients.values():
            with contextlib.suppress(Exception):  # closing is best effort
                client.close()
        _clients.clear()


def _open(settings: Settings, *, create_database: bool) -> Any:
    import clickhouse_connect  # server-only dependency, loaded lazily

    url = settings.clickhouse_url
    database = settings.clickhouse_database
    try:
        if settings.embedded:
            _ensure_embedded_dir(url)
            bootstrap = clickhouse_connect.get_client(dsn=url)
        else:
            bootstrap = clickhouse_connect.get_client(dsn=url, connect_timeout=5)
        if create_database:
            on_cluster = f" ON CLUSTER {settings.clickhouse_cluster}" if settings.clickhouse_cluster else ""
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {database}{on_cluster}")
        if settings.embedded:
            return clickhouse_connect.get_client(dsn=url, database=database)
        bootstrap.close()
        return clickhouse_connect.get_client(dsn=url, database=database, connect_timeout=5)
    except Exception as exc:
        text = str(exc)
        if settings.embedded and "already initialized with path" in text:
            raise DataDirInUse(
                "this process already runs embedded ClickHouse on another data dir; chDB allows one "
                f"data dir per process (asked for {_embedded_path(url)})"
            ) from None
        if settings.embedded and "EmbeddedServer" in text:
            raise DataDirInUse(
                f"the data dir {_embedded_path(url)} is in use by another tiermix process "
                "(embedded ClickHouse allows one process per data dir); stop it, or run this "
                "command through that server's admin API"
            ) from None
        raise StorageUnavailable(f"cannot open ClickHouse at {_redact(url)}: {text.splitlines()[0]}") from exc


def _embedded_path(url: str) -> str:
    return urlsplit(url).path or url


def _ensure_embedded_dir(url: str) -> None:
    path = _embedded_path(url)
    if path and path != "memory" and not url.startswith("chdb://memory"):
        Path(path).mkdir(parents=True, exist_ok=True)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
