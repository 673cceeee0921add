"""One real collector per module with API keys for tenants A and B (and an all-tenants admin).

Tenant B's calls go straight into ClickHouse with names found nowhere else (``b-secret-model``,
``b.secret.route``), so "A never sees B" is checkable on any response body: those strings must not occur.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.integration.auth.harness import Keys, Server, b_calls
from tests.support.calls import insert_calls
from tests.support.server import running_server

_databases = itertools.count()


@pytest.fixture(scope="module")
def server(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from tiermix_server.meta.db import close, open_meta
    from tiermix_server.meta.keys import create_key
    from tiermix_server.settings import Settings
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("auth"),
        clickhouse_url=f"chdb://{chdb_dir}",
        clickhouse_database=f"auth_{os.getpid()}_{next(_databases)}",
        port=free_port(),
        dashboard_port=free_port(),
        alerts_enabled=False,
        decode_workers=1,  # bodies over 16 KiB are decoded in a worker process, whatever the core count
    )
    client = connect(settings)
    migrate(client, settings)
    end = datetime.now(timezone.utc).replace(microsecond=0)
    start = end - timedelta(hours=20)
    insert_calls(client, b_calls(start, end - timedelta(hours=1)))
    meta = open_meta(settings)
    keys = Keys(
        admin=create_key(meta, scope="admin", tenant=None).key,
        a_read=create_key(meta, scope="read", tenant="tenant-a").key,
        a_ingest=create_key(meta, scope="ingest", tenant="tenant-a").key,
        a_admin=create_key(meta, scope="admin", tenant="tenant-a").key,
        b_read=create_key(meta, scope="read", tenant="tenant-b").key,
        b_ingest=create_key(meta, scope="ingest", tenant="tenant-b").key,
    )
    try:
        with running_server(settings) as url:
            yield Server(url, settings, client, meta, keys, start, end)
    finally:
        client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        close(settings.database_url)
