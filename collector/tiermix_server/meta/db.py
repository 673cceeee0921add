"""The metadata DB handle: one SQLAlchemy engine and session factory per database URL per process.

SQLite (the default, ``<data_dir>/tiermix.db``) is shared by the server and CLI commands running in
other processes, so connections use WAL and a busy timeout: a ``tiermix keys revoke`` never fails
because the collector happens to be writing ``last_used_at``. Migrations are Alembic revisions under
``tiermix_migrations/metadata``; ``upgrade_metadata`` runs them in code, without an alembic.ini.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tiermix_server.errors import MigrationError
from tiermix_server.settings import Settings

SCRIPT_LOCATION = "tiermix_migrations:metadata"

# Alembic announces each of its plugins at INFO whenever it loads; that is noise in every CLI command.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

_handles: dict[str, MetaDB] = {}
_handles_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class MetaDB:
    """An open metadata DB: ``session()`` opens a unit of work that commits on success."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


# Connections a SQLite engine keeps open. Every request checks its API key in a thread of the server's
# pool (40 threads), and with SQLAlchemy's default of 5 each check beyond the fifth at once opened a
# connection, ran the pragmas, read the schema and closed it again: with 50 senders of small requests
# that was most of the key check's cost (docs/performance.md). A SQLite connection is a file handle
# and a page cache filled only by use.
SQLITE_POOL_SIZE = 48
# On PostgreSQL each connection is a server process (a server allows 100 by default, in all), so 20 are
# kept and no more opened: a check beyond the twentieth at once waits for one (they take about a
# millisecond) instead of opening a connection it closes again. With SQLAlchemy's 5 + 10, 50 senders
# of small requests opened a server connection every fifth request: 1,106 in 40 s and 7.5 s of the
# server's CPU, against 21 and 2.3 s (docs/performance.md).
POSTGRES_POOL_SIZE = 20


def _engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if parsed.drivername == "postgresql":  # no driver named: use psycopg 3 (our dependency), not psycopg2
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, pool_size=POSTGRES_POOL_SIZE, max_overflow=0)
    pool: dict[str, int] = {}
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE}
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def open_meta(settings: Settings, *, upgrade: bool = True) -> MetaDB:
    """Return the process-wide handle for ``settings.database_url``; migrate it to head on first open."""
    url = settings.database_url
    with _handles_lock:
        handle = _handles.get(url)
        if handle is None:
            engine = _engine_for(url)
            handle = MetaDB(url, engine, sessionmaker(engine, expire_on_commit=False))
            if upgrade:
                _upgrade(handle.engine)
            _handles[url] = handle
        return handle


def close(url: str) -> None:
    """Dispose the cached engine for ``url`` (tests dropping a database, clean shutdown)."""
    with _handles_lock:
        handle = _handles.pop(url, None)
    if handle is not None:
        handle.dispose()


def close_all() -> None:
    """Dispose every cached engine (tests, clean shutdown)."""
    with _handles_lock:
        for handle in _handles.values():
            handle.dispose()
        _handles.clear()


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(engine: Engine, revision: str = "head") -> str:
    from alembic import command
    from alembic.script import ScriptDirectory

    try:
        with engine.begin() as connection:
            config = alembic_config(connection)
            script = ScriptDirectory.from_config(config)
            target = script.get_current_head() if revision == "head" else revision
            current = _current_revision(connection)
            if current != target:  # up to date is the common case: skip Alembic's environment entirely
                command.upgrade(config, revision)
                current = _current_revision(connection)
    except Exception as exc:
        raise MigrationError(f"metadata DB migration failed: {str(exc).splitlines()[0]}") from exc
    return current or "base"


def _current_revision(connection: Any) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_metadata(settings: Settings) -> str:
    """Apply pending metadata DB revisions (``alembic upgrade head``); return the current revision."""
    handle = open_meta(settings, upgrade=False)
    return _upgrade(handle.engine)


def downgrade_metadata(settings: Settings, revision: str = "base") -> None:
    """Walk the metadata DB back to ``revision`` (tests run every migration down)."""
    from alembic import command

    handle = open_meta(settings, upgrade=False)
    with handle.engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)
