"""Bill sources in the metadata DB: which provider bills are synced, with what admin key, how far.

The admin key is written once and never read back out through the API (``SourceRow.to_json`` says only
whether one is set), like alert channel secrets (docs/security.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from tiermix_server.errors import BadRequest, NotFound
from tiermix_server.meta.db import MetaDB
from tiermix_server.meta.models import BillSource

KINDS = ("openai", "anthropic", "import")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class SourceRow:
    name: str
    kind: str
    base_url: str
    admin_key: str
    backfill_days: int
    enabled: bool
    synced_through: date | None
    last_synced_at: datetime | None
    last_error: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "base_url": self.base_url or None,
            "admin_key": "set" if self.admin_key else None,  # never the key itself
            "backfill_days": self.backfill_days,
            "enabled": self.enabled,
            "synced_through": self.synced_through.isoformat() if self.synced_through else None,
            "last_synced_at": self.last_synced_at.isoformat() if self.last_synced_at else None,
            "last_error": self.last_error or None,
        }


def _row(s: BillSource) -> SourceRow:
    return SourceRow(
        s.name,
        s.kind,
        s.base_url,
        s.admin_key,
        s.backfill_days,
        s.enabled,
        date.fromisoformat(s.synced_through) if s.synced_through else None,
        s.last_synced_at,
        s.last_error,
    )


def validate(body: dict[str, Any], *, replacing: bool = False) -> dict[str, Any]:
    """A source's columns from a request body; ``replacing`` an existing source may omit its key."""
    unknown = set(body) - {"name", "kind", "base_url", "admin_key", "backfill_days", "enabled"}
    if unknown:
        raise BadRequest(f"unknown bill source fields: {', '.join(sorted(unknown))}")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise BadRequest("name: 1 to 100 letters, digits, '.', '_' or '-'")
    kind = body.get("kind")
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
    base_url = body.get("base_url") or ""
    if (
        not isinstance(base_url, str)
        or (base_url and not re.match(r"^https?://[^\s/]+", base_url))
        or len(base_url) > 500
    ):
        raise BadRequest("base_url must be an http(s) URL (empty: the provider's own API)")
    key = body.get("admin_key") or ""
    if not isinstance(key, str) or len(key) > 1000:
        raise BadRequest("admin_key must be a string")
    if kind in ("openai", "anthropic") and not key and not replacing:
        raise BadRequest(f"an {kind} bill source needs the organization's admin key (admin_key)")
    backfill = body.get("backfill_days", 30)
    if isinstance(backfill, bool) or not isinstance(backfill, int) or not 1 <= backfill <= 365:
        raise BadRequest("backfill_days must be an integer from 1 to 365")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequest("enabled must be true or false")
    return {
        "name": name,
        "kind": kind,
        "base_url": base_url.rstrip("/"),
        "admin_key": key,
        "backfill_days": backfill,
        "enabled": enabled,
    }


def list_sources(meta: MetaDB) -> list[SourceRow]:
    with meta.session() as session:
        return [_row(s) for s in session.scalars(select(BillSource).order_by(BillSource.name))]


def get_source(meta: MetaDB, name: str) -> SourceRow:
    if not _NAME.match(name):  # never a name at all: not sent to the database (NUL, a 10 kB path segment)
        raise NotFound(f"no bill source {name[:100]!r}")
    with meta.session() as session:
        found = session.get(BillSource, name)
        if found is None:
            raise NotFound(f"no bill source {name!r}")
        return _row(found)


def put_source(meta: MetaDB, values: dict[str, Any]) -> SourceRow:
    """Create or replace (a replaced source keeps its sync progress, and its key when none is sent)."""
    with meta.session() as session:
        found = session.get(BillSource, values["name"])
        if found is None:
            found = BillSource(**values)
            session.add(found)
        else:
            for key, value in values.items():
                if key == "admin_key" and not value:
                    continue
                setattr(found, key, value)
        session.flush()
        return _row(found)


def record_sync(meta: MetaDB, name: str, *, synced_through: date | None, at: datetime, error: str) -> None:
    with meta.session() as session:
        found = session.get(BillSource, name)
        if found is None:
            return
        if synced_through is not None:
            found.synced_through = synced_through.isoformat()
        found.last_synced_at = at
        found.last_error = error[:2000]


def delete_source(meta: MetaDB, name: str) -> None:
    if not _NAME.match(name):
        raise NotFound(f"no bill source {name[:100]!r}")
    with meta.session() as session:
        found = session.get(BillSource, name)
        if found is None:
            raise NotFound(f"no bill source {name!r}")
        session.delete(found)
