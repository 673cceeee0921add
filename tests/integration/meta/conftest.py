"""Metadata DB fixtures: SQLite per test, and fresh databases on the session's PostgreSQL cluster.

The cluster itself is the shared ``postgres_url`` fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_databases = itertools.count()


def _admin_execute(server_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(
        server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute(statement)


@pytest.fixture
def fresh_postgres(postgres_url: str) -> Iterator[Callable[[], str]]:
    """Make empty PostgreSQL databases for this test; dropped afterwards."""
    from tiermix_server.meta.db import close

    made: list[tuple[str, str]] = []

    def make() -> str:
        name = f"tiermix_test_{next(_databases)}"
        _admin_execute(postgres_url, f"CREATE DATABASE {name}")
        url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
        made.append((name, url))
        return url

    yield make
    for name, url in made:
        close(url)
        _admin_execute(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def meta_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Any], tmp_path: Path
) -> Iterator[Any]:
    """Settings whose metadata DB is a fresh SQLite file or a fresh PostgreSQL database."""
    from tiermix_server.meta.db import close

    if request.param == "sqlite":
        settings = make_settings(database_url=f"sqlite:///{tmp_path / 'meta.db'}")
    else:
        # A plain postgresql:// URL, as users write it (the driver is chosen by meta.db).
        url = request.getfixturevalue("fresh_postgres")().replace("postgresql+psycopg://", "postgresql://")
        settings = make_settings(database_url=url)
    yield settings
    close(settings.database_url)


@pytest.fixture
def meta(meta_settings: Any) -> Any:
    from tiermix_server.meta.db import open_meta

    return open_meta(meta_settings)
