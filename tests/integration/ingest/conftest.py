"""Fixtures for collector integration tests: the real app on 127.0.0.1 over the shared chDB engine."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import running_server


class Collector:
    """A running collector: its base URL, settings, ClickHouse client and an HTTP client."""

    def __init__(self, url: str, settings: Any) -> None:
        from tiermix_server.store.clickhouse import connect

        self.url = url
        self.settings = settings
        self.clickhouse = connect(settings)
        self.http = httpx.Client(base_url=url, timeout=30)

    def post(
        self, body: bytes, *, content_type: str = "application/x-protobuf", **headers: str
    ) -> httpx.Response:
        return self.http.post("/v1/traces", content=body, headers={"Content-Type": content_type, **headers})

    def scalar(self, sql: str, **parameters: Any) -> Any:
        return self.clickhouse.query(sql, parameters=parameters).result_rows[0][0]

    def rows(self, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
        return list(self.clickhouse.query(sql, parameters=parameters).result_rows)

    def metric(self, name: str) -> float:
        """A sample without labels from ``/metrics``; 0 when the collector has not counted it yet."""
        for line in self.http.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.05)


@contextlib.contextmanager
def start_collector(settings: Any) -> Iterator[Collector]:
    with running_server(settings) as url:
        collector = Collector(url, settings)
        try:
            yield collector
        finally:
            collector.http.close()


@pytest.fixture
def make_collector(make_settings: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """Start a collector with settings overrides; every one started is stopped at the end of the test."""
    with contextlib.ExitStack() as stack:

        def factory(**overrides: Any) -> Collector:
            options: dict[str, Any] = {"batch_max_delay_s": 0.05}
            options.update(overrides)
            return stack.enter_context(start_collector(make_settings(**options)))

        yield factory


@pytest.fixture
def collector(make_collector: Callable[..., Collector]) -> Collector:
    return make_collector()
