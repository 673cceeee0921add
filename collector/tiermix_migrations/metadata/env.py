"""Alembic environment for the tiermix metadata DB.

The URL comes from tiermix settings, never from an alembic.ini: ``meta.db.upgrade_metadata`` builds the
Alembic ``Config`` in code and hands over an open connection in ``config.attributes["connection"]``.
Run by hand (``alembic -c <ini>``), it falls back to ``load_settings()`` (``TIERMIX_DATABASE_URL`` /
``TIERMIX_DATA_DIR``). ``render_as_batch`` lets SQLite, which cannot ALTER most things, take the same
revisions as PostgreSQL.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection, create_engine

from tiermix_server.meta.models import Base, UTCDateTime

target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Revisions must not import model code (it changes; revisions don't): render UTCDateTime as its impl.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from tiermix_server.settings import load_settings

    engine = create_engine(load_settings().database_url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("tiermix metadata migrations run online only (`tiermix migrate`)")
run_migrations_online()
