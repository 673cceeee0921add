"""Fixtures for alert tests: real channel receivers and a metadata DB per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.alerts.receivers import Mailbox, Receiver, http_receiver, smtp_mailbox


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as rec:
        yield rec


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    with smtp_mailbox() as box:
        yield box


@pytest.fixture
def meta(make_settings: Any) -> Iterator[Any]:
    from tiermix_server.meta import db

    settings = make_settings()
    handle = db.open_meta(settings)
    try:
        yield handle
    finally:
        with db._handles_lock:
            db._handles.pop(settings.database_url, None)
        handle.dispose()
