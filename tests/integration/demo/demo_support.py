"""Helpers for the demo's integration tests: a real collector in-process, and polling its storage."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any


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
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, name="tiermix-demo-test-server", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False

        if not wait_until(healthy, timeout_s, 0.05):
            raise TimeoutError(f"server at {base_url} not healthy")
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=60)
