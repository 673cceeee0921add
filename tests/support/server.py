"""Run the real collector app on 127.0.0.1 inside the test process (uvicorn in a thread)."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def running_server(settings: Any, *, startup_timeout_s: float = 30.0) -> Iterator[str]:
    """Start ``create_app(settings)`` on ``settings.port``; yield its base URL; stop it on exit."""
    from tiermix_server.app import create_app

    with serving_app(create_app(settings), settings.port, startup_timeout_s=startup_timeout_s) as base_url:
        yield base_url


@contextlib.contextmanager
def serving_app(app: Any, port: int, *, startup_timeout_s: float = 30.0) -> Iterator[str]:
    """Serve an app already built (e.g. with a clock or the demo attached) on 127.0.0.1:``port``."""
    import uvicorn

    from tiermix_server.http_server import CollectorServer

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = CollectorServer(config)  # as `tiermix collector` / `tiermix up` run it
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, name="tiermix-test-server", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, thread, startup_timeout_s)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _wait_healthy(base_url: str, thread: threading.Thread, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the test server exited during start-up (see the log above)")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"server at {base_url} not healthy after {timeout_s}s")
