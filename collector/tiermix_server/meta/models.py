"""SQLAlchemy 2.0 models of the metadata DB (SQLite by default, PostgreSQL in production).

The tables hold what ClickHouse does not: price overrides and custom prices, the tier list and tier-map
rules, API keys, and everything the alert evaluator persists (rules, per-(rule, group) state, events,
silences, notification fingerprints, and the evaluator leader lock). Constraint names follow one naming
convention so Alembic autogenerate and ``alembic check`` produce stable names on both backends.
Timestamps are stored as UTC; ``UTCDateTime`` hands back aware datetimes on SQLite too, which has no
time-zone type.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# ---- prices -------------------------------------------------------------------------------------------


class PriceOverride(Base):
    """A price rule on top of genai-prices, effective from ``effective_from`` until a later rule.

    ``kind`` is ``discount`` (``discount_pct`` off the genai-prices cost) or ``custom`` (explicit USD per
    million tokens; the only way to price a self-hosted or private model). ``tenant`` NULL means every
    tenant; a tenant's own rule wins over a global one. ``provider`` NULL matches any provider.
    """

    __tablename__ = "price_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str | None] = mapped_column(String(200), nullable=True)
    provider: Mapped[str | None] = mapped_column(String(100), nullable=True)
    model: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    discount_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    input_usd_per_mtok: Mapped[float | None] = mapped_column(Float, nullable=True)
    output_usd_per_mtok: Mapped[float | None] = mapped_column(Float, nullable=True)
    cache_read_usd_per_mtok: Mapped[float | None] = mapped_column(Float, nullable=True)
    cache_write_usd_per_mtok: Mapped[float | None] = mapped_column(Float, nullable=True)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_price_overrides_model_tenant", "model", "tenant"),)


# ---- tiers --------------------------------------------------------------------------------------------


class TierDefinition(Base):
    """One tier of the ordered list (rank 0 is the cheapest). Empty table: the shipped default list."""

    __tablename__ = "tiers"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    # Upper bound of the tier's price band (blended USD per 1M tokens); NULL for the top tier.
    band_max_usd_per_mtok: Mapped[float | None] = mapped_column(Float, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")


class TierRule(Base):
    """A user tier-map rule; evaluated with the shipped default rules, highest priority first."""

    __tablename__ = "tier_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_pattern: Mapped[str] = mapped_column(String(300))
    provider_pattern: Mapped[str] = mapped_column(String(100), default="*")
    syntax: Mapped[str] = mapped_column(String(10), default="glob")  # glob | regex
    tier: Mapped[str] = mapped_column(String(50))
    priority: Mapped[int] = mapped_column(Integer, default=1000)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChangeCounter(Base):
    """Bumped on every price or tier change, so running enrichers notice within one cheap query."""

    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


# ---- API keys -----------------------------------------------------------------------------------------


class ApiKey(Base):
    """An API key: only the SHA-256 of the secret is stored; ``prefix`` finds the row and is shown."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(10))  # ingest | read | admin
    tenant: Mapped[str | None] = mapped_column(String(200), nullable=True)  # NULL: all tenants
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# ---- alerts ---------------------------------------------------------------------------------------------


class AlertRule(Base):
    """An alert rule; ``spec`` is the validated rule body (metric, filters, window, condition, ...)."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    tenant: Mapped[str | None] = mapped_column(String(200), nullable=True)  # owner; NULL: global rule
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AlertState(Base):
    """State of one alert instance: a rule x group (e.g. ``tenant=acme``)."""

    __tablename__ = "alert_states"

    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(500), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))  # ok | pending | firing | resolved | no_data
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    firing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_breach_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertEvent(Base):
    """History: one row per state transition (and per notification-worthy event)."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True)
    group_key: Mapped[str] = mapped_column(String(500))
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    tenant: Mapped[str | None] = mapped_column(String(200), nullable=True)  # for tenant-scoped reads
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertSilence(Base):
    """Mutes notifications for a rule (or all rules: NULL) and optionally one group, until ``ends_at``."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=True, index=True
    )
    group_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    comment: Mapped[str] = mapped_column(Text, default="")


class AlertNotification(Base):
    """A sent notification, keyed by fingerprint so a restarted evaluator never sends it twice."""

    __tablename__ = "alert_notifications"

    fingerprint: Mapped[str] = mapped_column(String(128), primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True)
    group_key: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # firing | resolved | repeat | test
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="sent")  # sent | failed
    error: Mapped[str] = mapped_column(Text, default="")


class LeaderLock(Base):
    """A named lease (the alert evaluator's): held by ``holder`` until ``expires_at``, then anyone's."""

    __tablename__ = "leader_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


# ---- shadow replay --------------------------------------------------------------------------------------


class CapturePolicy(Base):
    """Which calls keep their content for replay: a tenant's route (``*`` for every route), sampled.

    ``sample_rate`` is the share of the content-bearing calls that arrive which is kept (an SDK that
    samples already sends only its sample: 1.0 keeps all of it). No row: nothing is kept.
    """

    __tablename__ = "capture_policies"

    tenant: Mapped[str] = mapped_column(String(200), primary_key=True)
    route: Mapped[str] = mapped_column(String(200), primary_key=True)
    sample_rate: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReplayRun(Base):
    """One replay of a route's captured calls against a candidate model (replay/runs.py).

    ``spec`` is the validated request (candidate, judges, sample, caps); progress counters are updated
    as samples are judged, so a restarted server resumes where the run stood. ``result`` is the summary
    once the run has stopped (done, capped, cancelled or failed).
    """

    __tablename__ = "replay_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(200), index=True)
    route: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # queued | running | done | capped | cancelled | failed
    planned: Mapped[int] = mapped_column(Integer, default=0)
    judged: Mapped[int] = mapped_column(Integer, default=0)
    servable: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    spent_usd: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# ---- budgets --------------------------------------------------------------------------------------------


class Budget(Base):
    """A spend limit in USD for a tenant, a route, or a tenant x route (docs/budgets.md).

    ``tenant`` / ``route`` NULL means every tenant / every route. ``period`` is ``month`` (each calendar
    month, UTC, renewing by itself) or ``custom`` (``starts_on`` to ``ends_on``, the end exclusive).
    """

    __tablename__ = "budgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    tenant: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    route: Mapped[str | None] = mapped_column(String(200), nullable=True)
    period: Mapped[str] = mapped_column(String(10))  # month | custom
    starts_on: Mapped[str | None] = mapped_column(String(10), nullable=True)  # YYYY-MM-DD, custom only
    ends_on: Mapped[str | None] = mapped_column(String(10), nullable=True)
    amount_usd: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# ---- provider bills -------------------------------------------------------------------------------------


class BillSource(Base):
    """Where a provider's bill comes from (docs/reconciliation.md): its cost API, or imported files.

    ``kind`` is ``openai`` (organization Costs and Usage API), ``anthropic`` (Usage & Cost Admin API) or
    ``import`` (CSV / FOCUS files sent to ``/api/v1/bills/import``). ``admin_key`` is the provider's
    admin key: stored like alert channel secrets, never shown again and never to a tenant key.
    ``synced_through`` is the last day a sync completed, where the next one resumes.
    """

    __tablename__ = "bill_sources"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str] = mapped_column(String(500), default="")
    admin_key: Mapped[str] = mapped_column(Text, default="")
    backfill_days: Mapped[int] = mapped_column(Integer, default=30)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    synced_through: Mapped[str | None] = mapped_column(String(10), nullable=True)  # YYYY-MM-DD
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
