"""pytest fixtures for SDK tests, imported by the SDK test folders' ``conftest.py``.

``sink``: a running :class:`OtlpSink`. ``sdk``: tiermix initialised against it with a fast export
interval and short backoff; a function that re-initialises with overrides; always shut down after the
test, and the provider clients un-instrumented.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def add_sdk_to_path() -> None:
    """Make ``tiermix`` importable from a source checkout that was not pip-installed."""
    for path in (os.path.join(ROOT, "sdk"), ROOT):
        if path not in sys.path:
            sys.path.insert(0, path)


add_sdk_to_path()

import tiermix  # noqa: E402
from tests.fakes.otlp_sink import OtlpSink  # noqa: E402
from tests.fakes.providers import FakeProviders  # noqa: E402
from tiermix import _log  # noqa: E402

FAST = {"export_interval_s": 0.05, "max_backoff_s": 0.2, "retry_window_s": 0.5, "export_timeout_s": 2.0}


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    server = OtlpSink().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def providers() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def sdk(sink: OtlpSink) -> Iterator[Callable[..., None]]:
    """Initialise tiermix against ``sink``; call the fixture value again to re-init with overrides."""

    def start(**overrides: Any) -> None:
        tiermix.init(
            **{"endpoint": sink.endpoint, "service": "sdk-test", "environment": "test", **FAST, **overrides}
        )

    _log.reset_for_tests()
    start()
    try:
        yield start
    finally:
        tiermix.uninstrument()
        tiermix.shutdown(timeout_s=2.0)
