"""Flags every command shares, and turning them into the one ``Settings`` object."""

from __future__ import annotations

import argparse

from tiermix_server.settings import Settings, load_settings


def add_storage_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data directory (TIERMIX_DATA_DIR, default ./.tiermix)")
    parser.add_argument("--clickhouse-url", help="ClickHouse DSN (TIERMIX_CLICKHOUSE_URL)")
    parser.add_argument("--database-url", help="metadata DB URL (TIERMIX_DATABASE_URL)")


def settings_from(args: argparse.Namespace, **extra: object) -> Settings:
    """Settings from the shared flags plus command-specific ``extra`` (``None`` = not given)."""
    return load_settings(
        data_dir=getattr(args, "data_dir", None),
        clickhouse_url=getattr(args, "clickhouse_url", None),
        database_url=getattr(args, "database_url", None),
        **extra,
    )
