"""Flags every command shares, turning them into the one ``Settings`` object, and the API client of the
commands that talk to a running server (``--server``, ``--api-key``)."""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from typing import Any

from tiermix_server.errors import TiermixError
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


def money(value: float | None) -> str:
    """Dollars with the precision the amount needs (a small tenant's $0.0078 is not "$0.00"), signed."""
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else ""
    size = abs(value)
    return f"{sign}${size:,.2f}" if size >= 1 or size == 0 else f"{sign}${size:,.4f}"


def add_server_flags(parser: argparse.ArgumentParser, key: str) -> None:
    parser.add_argument("--server", help="the tiermix server (default http://127.0.0.1:TIERMIX_PORT)")
    parser.add_argument("--api-key", help=f"{key} (default TIERMIX_API_KEY)")


class Api:
    def __init__(self, args: argparse.Namespace) -> None:
        server = args.server or os.environ.get("TIERMIX_SERVER")
        if not server:
            server = f"http://127.0.0.1:{settings_from(args).port}"
        self.base = server.rstrip("/")
        self.key = args.api_key or os.environ.get("TIERMIX_API_KEY")

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, timeout_s: float = 60
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        return self._send(method, path, data, "application/json", timeout_s)

    def call_text(self, method: str, path: str, text: str, content_type: str) -> Any:
        return self._send(method, path, text.encode(), content_type, 600)

    def _send(
        self, method: str, path: str, data: bytes | None, content_type: str, timeout_s: float = 60
    ) -> Any:
        headers = {"content-type": content_type}
        if self.key:
            headers["authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", {}).get("message", exc.reason)
            except ValueError:
                message = exc.reason
            raise TiermixError(f"{method} {path}: HTTP {exc.code}: {message}") from None
        except urllib.error.URLError as exc:
            raise TiermixError(f"cannot reach the tiermix server at {self.base}: {exc.reason}") from None
