"""API keys in the metadata DB: shown once, stored hashed, verified, revoked, counted."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from tiermix_server.errors import BadRequest, NotFound
from tiermix_server.meta.keys import (
    any_active_key,
    count_active_keys,
    create_key,
    list_keys,
    revoke_key,
    verify_key,
)
from tiermix_server.meta.models import ApiKey


def test_a_created_key_verifies_with_its_scope_and_tenant(meta: Any) -> None:
    created = create_key(meta, scope="read", tenant="acme", name="dashboard")
    info = verify_key(meta, created.key)
    assert info is not None
    assert (info.scope, info.tenant, info.name, info.prefix) == (
        "read",
        "acme",
        "dashboard",
        created.info.prefix,
    )


def test_the_secret_is_not_stored_only_its_sha256(meta: Any) -> None:
    created = create_key(meta, scope="admin", tenant=None)
    secret = created.key.split("_", 2)[2]
    with meta.engine.connect() as connection:
        dumped = " ".join(
            str(value) for row in connection.execute(text("SELECT * FROM api_keys")) for value in row
        )
    assert secret not in dumped
    assert created.key not in dumped


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # wrong secret, right prefix
        lambda key: "tmx_000000000000_" + key.split("_", 2)[2],  # unknown prefix
        lambda key: key.replace("tmx_", "xyz_"),  # not a tiermix key
        lambda key: "",
    ],
)
def test_a_wrong_or_malformed_key_does_not_verify(meta: Any, mangle: Any) -> None:
    created = create_key(meta, scope="ingest", tenant="acme")
    assert verify_key(meta, mangle(created.key)) is None


def test_a_revoked_key_no_longer_verifies_and_is_not_counted(meta: Any, meta_settings: Any) -> None:
    created = create_key(meta, scope="ingest", tenant="acme")
    assert count_active_keys(meta_settings) == 1
    revoked = revoke_key(meta, created.info.prefix)
    assert revoked.revoked_at is not None
    assert verify_key(meta, created.key) is None
    assert count_active_keys(meta_settings) == 0
    assert not any_active_key(meta)
    assert [k.active for k in list_keys(meta)] == [False]
    assert list_keys(meta, include_revoked=False) == []


def test_revoking_an_unknown_key_is_a_clear_error(meta: Any) -> None:
    with pytest.raises(NotFound):
        revoke_key(meta, "ffffffffffff")


def test_unknown_scope_is_refused(meta: Any) -> None:
    with pytest.raises(BadRequest):
        create_key(meta, scope="superuser", tenant=None)


def test_last_used_is_recorded_but_written_at_most_once_a_minute(meta: Any) -> None:
    created = create_key(meta, scope="read", tenant=None)
    assert created.info.last_used_at is None
    verify_key(meta, created.key)
    with meta.session() as session:
        first = session.scalar(select(ApiKey.last_used_at))
    assert first is not None
    verify_key(meta, created.key)
    with meta.session() as session:
        assert session.scalar(select(ApiKey.last_used_at)) == first
        session.execute(update(ApiKey).values(last_used_at=first - timedelta(minutes=5)))
    verify_key(meta, created.key)
    with meta.session() as session:
        assert session.scalar(select(ApiKey.last_used_at)) > first - timedelta(minutes=5)


def test_key_checks_from_the_servers_threads_keep_their_connections(meta: Any) -> None:
    """Bursts of key checks from 40 threads (the server's pool for them) open each connection once.

    With SQLAlchemy's default pool (5 kept, 10 more closed on return) every check beyond the fifth at
    once opened a connection (on SQLite: its pragmas, the schema read again; on PostgreSQL: a server
    process) and closed it again (docs/performance.md).
    """
    from sqlalchemy import event

    key = create_key(meta, scope="ingest", tenant="acme").key
    opened: list[int] = []
    event.listen(meta.engine, "connect", lambda *_: opened.append(1))
    # Each check holds its connection a little, as under load (the GIL shared with the ingest work):
    # so the checks overlap as they do in the server.
    event.listen(meta.engine, "checkout", lambda *_: time.sleep(0.002))
    together = threading.Barrier(40)
    answers: list[bool] = []

    def checks() -> None:
        for _ in range(10):  # requests come in bursts: 40 checks at once, then the next 40
            together.wait()
            answers.append(verify_key(meta, key) is not None and any_active_key(meta))

    threads = [threading.Thread(target=checks) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [True] * 400
    assert len(opened) <= 40, f"{len(opened)} connections opened for 10 bursts of 40 checks"
