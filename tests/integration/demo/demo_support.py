"""Helpers for the demo's integration tests: a real collector in-process, and polling its storage."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from tests.support.server import serving_app


def wait_until(predicate: Callable[[], Any], timeout_s: float = 60.0, interval_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)


def stored_calls(client: Any) -> int:
    return int(client.query("SELECT count() FROM llm_calls").result_rows[0][0])


@contextlib.contextmanager
def serving(app: Any, port: int, timeout_s: float = 30.0) -> Iterator[str]:
    """Run an already built app (``create_app`` + ``attach_demo``) on 127.0.0.1 in a thread."""
    with serving_app(app, port, startup_timeout_s=timeout_s) as base_url:
        yield base_url
