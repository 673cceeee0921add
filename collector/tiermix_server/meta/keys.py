"""API keys: created random and shown once, stored as SHA-256, verified in constant time.

A key reads ``tmx_<prefix>_<secret>``: the 12-hex-char prefix finds the row (and is what ``keys list``
shows), the 32-byte secret is never stored. Because the secret has 256 bits of entropy, a plain SHA-256
is the right hash (a slow password hash only helps low-entropy secrets) and keeps verification cheap
enough to run on every request. ``last_used_at`` is written at most once a minute per key, so a busy
ingest key does not turn every request into a write.

The checks every request makes (``verify_key``, ``keys_ever_created``, ``any_active_key``) read the
database each time — a key revoked from another process is refused on the next request — but through
statements built once, on a pooled connection, not an ORM session: ~35-45 µs of CPU a request instead
of ~170-250 (docs/performance.md), which a fleet of SDKs sending small requests paid on each.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update

from tiermix_server.errors import BadRequest, NotFound
from tiermix_server.meta.db import MetaDB, open_meta
from tiermix_server.meta.models import ApiKey, utcnow
from tiermix_server.settings import Settings

SCOPES = ("ingest", "read", "admin")
_KEY_FORMAT = re.compile(r"^tmx_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
_LAST_USED_RESOLUTION = timedelta(seconds=60)
_TENANT_FORMAT = re.compile(r"^[^\x00-\x1f]{1,200}$")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key (never the secret)."""

    id: int
    prefix: str
    scope: str
    tenant: str | None
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    info: KeyInfo
    key: str  # the full key: shown once, then gone


# The per-request reads, built once (building a statement costs more than running it on SQLite).
_KEY_BY_PREFIX = select(
    ApiKey.id,
    ApiKey.prefix,
    ApiKey.scope,
    ApiKey.tenant,
    ApiKey.name,
    ApiKey.created_at,
    ApiKey.revoked_at,
    ApiKey.last_used_at,
    ApiKey.secret_sha256,
).where(ApiKey.prefix == bindparam("prefix"))
_TOUCH_KEY = update(ApiKey).where(ApiKey.id == bindparam("key_id")).values(last_used_at=bindparam("now"))
_ANY_KEY = select(ApiKey.id).limit(1)
_ANY_ACTIVE_KEY = select(ApiKey.id).where(ApiKey.revoked_at.is_(None)).limit(1)


def _info(row: Any) -> KeyInfo:
    """``row``: an ``ApiKey``, or a row of ``_KEY_BY_PREFIX``."""
    return KeyInfo(
        row.id, row.prefix, row.scope, row.tenant, row.name, row.created_at, row.revoked_at, row.last_used_at
    )


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(meta: MetaDB, *, scope: str, tenant: str | None, name: str = "") -> CreatedKey:
    """Create a key bound to ``tenant`` (``None``: all tenants) with ``scope``."""
    if scope not in SCOPES:
        raise BadRequest(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
    if tenant is not None and not _TENANT_FORMAT.match(tenant):
        raise BadRequest("tenant must be 1-200 printable characters")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with meta.session() as session:
        row = ApiKey(prefix=prefix, secret_sha256=_sha256(secret), scope=scope, tenant=tenant, name=name)
        session.add(row)
        session.flush()
        info = _info(row)
    return CreatedKey(info, f"tmx_{prefix}_{secret}")


def list_keys(meta: MetaDB, *, include_revoked: bool = True) -> list[KeyInfo]:
    with meta.session() as session:
        query = select(ApiKey).order_by(ApiKey.id)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        return [_info(row) for row in session.scalars(query)]


def revoke_key(meta: MetaDB, ident: str) -> KeyInfo:
    """Revoke by prefix (as ``keys list`` shows it), full key, or numeric id. Idempotent."""
    match = _KEY_FORMAT.match(ident)
    prefix = match.group(1) if match else ident.removeprefix("tmx_")
    with meta.session() as session:
        query = select(ApiKey).where(ApiKey.prefix == prefix)
        if ident.isdigit():
            query = select(ApiKey).where((ApiKey.prefix == prefix) | (ApiKey.id == int(ident)))
        row = session.scalars(query).first()
        if row is None:
            raise NotFound(f"no API key {ident!r}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return _info(row)


def verify_key(meta: MetaDB, key: str) -> KeyInfo | None:
    """The active key's info when ``key`` is valid; ``None`` for malformed, unknown or revoked keys."""
    match = _KEY_FORMAT.match(key.strip())
    if match is None:
        return None
    prefix, secret = match.groups()
    with meta.engine.connect() as connection:
        row = connection.execute(_KEY_BY_PREFIX, {"prefix": prefix}).first()
    # Hash-then-compare in constant time, even on a miss, so timing says nothing about the secret.
    stored = row.secret_sha256 if row is not None else "0" * 64
    if not hmac.compare_digest(stored, _sha256(secret)) or row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_RESOLUTION:
        with meta.engine.begin() as connection:
            connection.execute(_TOUCH_KEY, {"key_id": row.id, "now": now})
    return _info(row)


def any_active_key(meta: MetaDB) -> bool:
    with meta.engine.connect() as connection:
        return connection.execute(_ANY_ACTIVE_KEY).first() is not None


def keys_ever_created(meta: MetaDB) -> bool:
    """Whether this metadata DB has ever held a key, revoked or not: from the first key on, the
    deployment uses API keys, and revoking them all must never turn authentication off again."""
    with meta.engine.connect() as connection:
        return connection.execute(_ANY_KEY).first() is not None


def is_last_admin_key(meta: MetaDB, prefix: str) -> bool:
    """True when ``prefix`` is the only active all-tenants admin key: revoking it locks out the API."""
    with meta.session() as session:
        rows = session.execute(
            select(ApiKey.prefix).where(
                ApiKey.revoked_at.is_(None), ApiKey.scope == "admin", ApiKey.tenant.is_(None)
            )
        ).all()
    return [row[0] for row in rows] == [prefix]


def count_active_keys(settings: Settings) -> int:
    """Active keys in the metadata DB of ``settings`` (the start-up check in security.py uses this)."""
    meta = open_meta(settings)
    with meta.session() as session:
        return int(
            session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))) or 0
        )
