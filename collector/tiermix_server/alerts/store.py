"""Alert rules, silences, states and history in the metadata DB (tables in ``meta/models.py``).

API, CLI and evaluator all go through these functions, so a rule created by ``tiermix alerts create``
in one process is evaluated by the collector in another (SQLite WAL / PostgreSQL). A rule row keeps the
validated spec as JSON plus the columns queries need (``name``, owning ``tenant``, ``enabled``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tiermix_server.alerts.notification import decode_group, encode_group
from tiermix_server.alerts.rules import RuleSpec, parse_rule
from tiermix_server.errors import BadRequest, NotFound, TiermixError
from tiermix_server.meta.models import AlertEvent, AlertNotification, AlertRule, AlertSilence, AlertState


class RuleConflict(TiermixError):
    http_status = 409
    code = "conflict"


@dataclass(frozen=True, slots=True)
class RuleRecord:
    id: int
    name: str
    tenant: str | None
    spec: RuleSpec
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AlertRule) -> RuleRecord:
        spec = parse_rule({**row.spec, "enabled": row.enabled})
        return cls(row.id, row.name, row.tenant, spec, row.enabled, row.created_at, row.updated_at)


def create_rule(meta: Any, spec: RuleSpec) -> RuleRecord:
    try:
        with meta.session() as session:
            row = AlertRule(
                name=spec.name, tenant=spec.filters.tenant, spec=spec.to_json(), enabled=spec.enabled
            )
            session.add(row)
            session.flush()
            return RuleRecord.of(row)
    except IntegrityError:
        raise RuleConflict(f"a rule named {spec.name!r} already exists") from None


def replace_rule(meta: Any, rule_id: int, spec: RuleSpec) -> RuleRecord:
    try:
        with meta.session() as session:
            row = _rule_row(session, rule_id)
            row.name, row.tenant, row.spec, row.enabled = (
                spec.name,
                spec.filters.tenant,
                spec.to_json(),
                spec.enabled,
            )
            if not spec.enabled:
                # A disabled rule judges nothing: its pending and firing states would freeze as they
                # are, and show as firing forever. Cleared; enabling it again starts from ok.
                session.execute(delete(AlertState).where(AlertState.rule_id == rule_id))
            session.flush()
            return RuleRecord.of(row)
    except IntegrityError:
        raise RuleConflict(f"a rule named {spec.name!r} already exists") from None


def delete_rule(meta: Any, rule_id: int) -> None:
    with meta.session() as session:
        row = _rule_row(session, rule_id)
        # SQLite only cascades with foreign keys on; delete dependents explicitly to be backend-proof.
        for model in (AlertState, AlertEvent, AlertSilence, AlertNotification):
            session.execute(delete(model).where(model.rule_id == rule_id))
        session.delete(row)


def get_rule(meta: Any, rule_id: int) -> RuleRecord:
    with meta.session() as session:
        return RuleRecord.of(_rule_row(session, rule_id))


def find_rule(meta: Any, id_or_name: str) -> RuleRecord:
    """A rule by id (digits) or exact name (the CLI accepts both)."""
    with meta.session() as session:
        row = None
        if id_or_name.isdigit():
            row = session.get(AlertRule, int(id_or_name))
        if row is None:
            row = session.scalars(select(AlertRule).where(AlertRule.name == id_or_name)).first()
        if row is None:
            raise NotFound(f"no alert rule {id_or_name!r}")
        return RuleRecord.of(row)


def list_rules(meta: Any, *, enabled_only: bool = False) -> list[RuleRecord]:
    with meta.session() as session:
        query = select(AlertRule).order_by(AlertRule.id)
        if enabled_only:
            query = query.where(AlertRule.enabled.is_(True))
        return [RuleRecord.of(row) for row in session.scalars(query)]


def _rule_row(session: Session, rule_id: int) -> AlertRule:
    row = session.get(AlertRule, rule_id)
    if row is None:
        raise NotFound(f"no alert rule {rule_id}")
    return row


# ---- silences -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SilenceRecord:
    id: int
    rule_id: int | None
    group: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def matches(self, rule_id: int, group: dict[str, str], at: datetime) -> bool:
        """Active at ``at`` for this rule (or all rules) and a group containing every silenced label."""
        if not self.starts_at <= at < self.ends_at:
            return False
        if self.rule_id is not None and self.rule_id != rule_id:
            return False
        return all(group.get(key) == value for key, value in self.group.items())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule_id": self.rule_id,
            "group": self.group,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "created_by": self.created_by,
            "comment": self.comment,
        }


def _silence(row: AlertSilence) -> SilenceRecord:
    group = decode_group(row.group_key) if row.group_key else {}
    return SilenceRecord(row.id, row.rule_id, group, row.starts_at, row.ends_at, row.created_by, row.comment)


def create_silence(
    meta: Any,
    *,
    rule_id: int | None,
    group: dict[str, str],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str = "",
    comment: str = "",
) -> SilenceRecord:
    if ends_at <= starts_at:
        raise BadRequest("a silence must end after it starts")
    with meta.session() as session:
        if rule_id is not None:
            _rule_row(session, rule_id)
        row = AlertSilence(
            rule_id=rule_id,
            group_key=encode_group(group) or None,
            starts_at=starts_at,
            ends_at=ends_at,
            created_by=created_by,
            comment=comment,
        )
        session.add(row)
        session.flush()
        return _silence(row)


def list_silences(meta: Any, *, active_at: datetime | None = None) -> list[SilenceRecord]:
    with meta.session() as session:
        query = select(AlertSilence).order_by(AlertSilence.id)
        if active_at is not None:
            query = query.where(AlertSilence.ends_at > active_at, AlertSilence.starts_at <= active_at)
        return [_silence(row) for row in session.scalars(query)]


def expire_silence(meta: Any, silence_id: int, at: datetime) -> SilenceRecord:
    """End a silence now (kept for the record rather than deleted)."""
    with meta.session() as session:
        row = session.get(AlertSilence, silence_id)
        if row is None:
            raise NotFound(f"no silence {silence_id}")
        if row.ends_at > at:
            row.ends_at = max(at, row.starts_at)
        return _silence(row)


# ---- states and events (read side; the evaluator writes them) ------------------------------------------


def list_states(meta: Any, rule_id: int | None = None) -> list[dict[str, Any]]:
    with meta.session() as session:
        query = select(AlertState, AlertRule.name).join(AlertRule, AlertRule.id == AlertState.rule_id)
        if rule_id is not None:
            query = query.where(AlertState.rule_id == rule_id)
        rows = session.execute(query.order_by(AlertState.rule_id, AlertState.group_key)).all()
        return [_state_json(state, name) for state, name in rows]


def _state_json(row: AlertState, rule_name: str) -> dict[str, Any]:
    details = dict(row.details or {})
    return {
        "rule_id": row.rule_id,
        "rule": rule_name,
        "group": decode_group(row.group_key),
        "state": row.state,
        "value": row.value,
        "volume": details.get("volume", 0),
        "since": details.get("since"),
        "pending_since": _iso(row.pending_since),
        "firing_since": _iso(row.firing_since),
        "last_notified_at": _iso(row.last_notified_at),
        "last_evaluated_at": _iso(row.last_evaluated_at),
    }


def list_events(
    meta: Any,
    *,
    rule_id: int | None = None,
    since: datetime | None = None,
    tenant: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    with meta.session() as session:
        query = select(AlertEvent, AlertRule.name).join(AlertRule, AlertRule.id == AlertEvent.rule_id)
        if rule_id is not None:
            query = query.where(AlertEvent.rule_id == rule_id)
        if since is not None:
            query = query.where(AlertEvent.ts >= since)
        if tenant is not None:
            query = query.where(AlertEvent.tenant == tenant)
        rows = session.execute(query.order_by(AlertEvent.id.desc()).limit(limit)).all()
        return [
            {
                "id": event.id,
                "rule_id": event.rule_id,
                "rule": name,
                "group": decode_group(event.group_key),
                "ts": _iso(event.ts),
                "from": event.from_state,
                "to": event.to_state,
                "value": event.value,
                "threshold": event.threshold,
                "details": event.details or {},
            }
            for event, name in rows
        ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
