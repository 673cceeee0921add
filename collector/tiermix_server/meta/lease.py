"""A lease in the metadata DB: one holder at a time across replicas, taken over when the holder dies.

Used so that one replica evaluates alerts (``EVALUATOR_LOCK``), and so that re-pricing and re-tiering
run one at a time per ClickHouse database (``rewrite_lock``).

The holder renews the lease every cycle; a lease not renewed for ``ttl_s`` is free for anyone. Taking
it is one conditional ``UPDATE`` (or an ``INSERT`` for the very first holder), which SQLite and
PostgreSQL both execute atomically, so two replicas can never both believe they hold it. The lease uses
its own (wall) clock, separate from the evaluator's injectable one: replicas compare it with each other.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from tiermix_server.meta.models import LeaderLock

EVALUATOR_LOCK = "alerts-evaluator"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


def rewrite_lock(database: str) -> str:
    """The lease that serialises re-pricing and re-tiering of one ClickHouse database."""
    return f"rewrite:{database}"


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(
        self,
        meta: Any,
        *,
        ttl_s: float,
        name: str = EVALUATOR_LOCK,
        holder: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.meta = meta
        self.name = name
        self.holder = holder or holder_id()
        self.ttl_s = ttl_s
        self.clock = clock or SystemClock()

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        now = self.clock.now()
        expires = now + timedelta(seconds=self.ttl_s)
        with self.meta.session() as session:
            renewed = session.execute(
                update(LeaderLock)
                .where(LeaderLock.name == self.name, LeaderLock.holder == self.holder)
                .values(expires_at=expires)
            )
            if renewed.rowcount == 1:
                return True
            taken = session.execute(
                update(LeaderLock)
                .where(LeaderLock.name == self.name, LeaderLock.expires_at <= now)
                .values(holder=self.holder, acquired_at=now, expires_at=expires)
            )
            if taken.rowcount == 1:
                return True
        try:
            with self.meta.session() as session:
                if session.get(LeaderLock, self.name) is not None:
                    return False
                session.add(
                    LeaderLock(name=self.name, holder=self.holder, acquired_at=now, expires_at=expires)
                )
            return True
        except IntegrityError:
            return False  # another replica inserted it first

    def release(self) -> None:
        """Give the lease up at clean shutdown so a standby takes over on its next cycle."""
        with self.meta.session() as session:
            session.execute(
                delete(LeaderLock).where(LeaderLock.name == self.name, LeaderLock.holder == self.holder)
            )

    def current_holder(self) -> tuple[str, datetime] | None:
        with self.meta.session() as session:
            row = session.get(LeaderLock, self.name)
            return (row.holder, row.expires_at) if row is not None else None
