"""``tiermix migrate``: apply ClickHouse and metadata DB migrations (a no-op when up to date)."""

from __future__ import annotations

import argparse

from tiermix_server.commands.common import add_storage_flags, settings_from


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("migrate", help="apply ClickHouse and metadata DB migrations")
    add_storage_flags(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tiermix_server.meta.db import upgrade_metadata
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = settings_from(args)
    applied = migrate(connect(settings), settings)
    print(f"ClickHouse: {'applied ' + ', '.join(applied) if applied else 'up to date'}")
    revision = upgrade_metadata(settings)
    print(f"metadata DB: at revision {revision}")
    return 0
