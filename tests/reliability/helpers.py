"""Helpers of the reliability suite: the real collector on 127.0.0.1, and settings for it.

``make_settings`` (tests/conftest.py) is per test; reliability modules that hammer one server with many
requests share a module-scoped one built the same way (shared chDB engine, private database with a
random name, private data dir), so the suite pays the start-up once per module.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import running_server


class Server:
    """A running collector: URL, settings, a ClickHouse client on its database, an HTTP client."""

    def __init__(self, url: str, settings: Any) -> None:
        from tiermix_server.store.clickhouse import connect

        self.url = url
        self.settings = settings
        self.clickhouse = connect(settings)
        self.http = httpx.Client(base_url=url, timeout=30)

    def scalar(self, sql: str, **parameters: Any) -> Any:
        return self.clickhouse.query(sql, parameters=parameters).result_rows[0][0]

    def rows(self, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
        return list(self.clickhouse.query(sql, parameters=parameters).result_rows)

    def healthy(self) -> bool:
        return self.http.get("/healthz").status_code == 200


def reliability_settings(chdb_dir: Path, data_dir: Path, **overrides: Any) -> Any:
    """Server settings like ``make_settings`` gives, usable from module-scoped fixtures."""
    from tiermix_server.settings import Settings

    values: dict[str, Any] = {
        "data_dir": data_dir,
        "clickhouse_url": f"chdb://{chdb_dir}",
        "clickhouse_database": f"rel{os.getpid()}_{uuid.uuid4().hex[:12]}",
        "port": free_port(),
        "dashboard_port": free_port(),
        "alerts_enabled": False,
        "batch_max_delay_s": 0.05,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.contextmanager
def serve(settings: Any) -> Iterator[Server]:
    """Run the collector for ``settings``; drop its database once it has stopped."""
    server: Server | None = None
    try:
        with running_server(settings) as url:
            server = Server(url, settings)
            yield server
    finally:
        if server is not None:
            server.http.close()
            server.clickhouse.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout_s}s")
        time.sleep(0.05)
