"""How the evaluator's state, history and notification outbox map onto the metadata DB tables.

``alert_states`` holds one row per (rule, group): the state machine's fields, plus in ``details`` the
rest of ``InstanceState`` and the *outbox*: notifications decided but not yet delivered, written in the
same transaction as the state that called for them. ``alert_notifications`` records every delivery under
its fingerprint (``Notification.fingerprint(channel)``); a fingerprint recorded as sent is never sent
again, whatever restarts happened in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from tiermix_server.alerts.judge import Judgement
from tiermix_server.alerts.notification import Notification
from tiermix_server.alerts.notify import Delivery
from tiermix_server.alerts.rules import RuleSpec
from tiermix_server.alerts.state import InstanceState, Status, Step
from tiermix_server.alerts.store import RuleRecord
from tiermix_server.meta.models import AlertEvent, AlertNotification, AlertState


@dataclass(frozen=True, slots=True)
class OutboxItem:
    rule_id: int
    group_key: str
    spec: RuleSpec
    entry_id: str
    notification: Notification
    channel_ids: tuple[str, ...]


def state_of(row: AlertState) -> InstanceState:
    details = row.details or {}
    since = details.get("since")
    return InstanceState(
        status=Status(row.state),
        since=datetime.fromisoformat(since) if since else None,
        pending_since=row.pending_since,
        firing_since=row.firing_since,
        last_breach_at=row.last_breach_at,
        last_notified_at=row.last_notified_at,
        notified=bool(details.get("notified", False)),
        repeats=int(details.get("repeats", 0)),
        value=row.value,
        volume=int(details.get("volume", 0)),
    )


def save_state(
    session: Any,
    rule: RuleRecord,
    group_key: str,
    row: AlertState | None,
    state: InstanceState,
    now: datetime,
    notification: Notification | None,
) -> list[dict[str, Any]]:
    """Write ``state`` (and queue ``notification``); return the row's whole outbox."""
    if row is None:
        row = AlertState(rule_id=rule.id, group_key=group_key, details={})
        session.add(row)
    details = dict(row.details or {})
    outbox = list(details.get("outbox", []))
    channel_ids = [f"{index}:{channel.type}" for index, channel in enumerate(rule.spec.channels)]
    if notification is not None and channel_ids:
        outbox.append(
            {
                "id": notification.fingerprint(""),
                "notification": notification.to_json(),
                "channels": channel_ids,
            }
        )
    row.state = state.status.value
    row.value = state.value
    row.pending_since = state.pending_since
    row.firing_since = state.firing_since
    row.last_breach_at = state.last_breach_at
    row.last_notified_at = state.last_notified_at
    row.last_evaluated_at = now
    if state.status is Status.RESOLVED and state.since == now:
        row.resolved_at = now
    row.details = {
        **details,
        "since": state.since.isoformat() if state.since else None,
        "notified": state.notified,
        "repeats": state.repeats,
        "volume": state.volume,
        "outbox": outbox,
    }
    return outbox


def add_transition(
    session: Any,
    rule: RuleRecord,
    group_key: str,
    group: dict[str, str],
    result: Step,
    judgement: Judgement,
    now: datetime,
) -> None:
    details: dict[str, Any] = {"volume": judgement.observation.volume}
    if judgement.compared is not None and judgement.compared != judgement.observation.value:
        details["compared"] = _finite(judgement.compared)
        details["baseline"] = judgement.baseline
    if judgement.reason:
        details["reason"] = judgement.reason
    session.add(
        AlertEvent(
            rule_id=rule.id,
            group_key=group_key,
            ts=now,
            from_state=result.previous.status.value,
            to_state=result.state.status.value,
            value=_finite(judgement.observation.value),
            threshold=rule.spec.condition.threshold,
            tenant=group.get("tenant") or rule.spec.filters.tenant,
            details=details,
        )
    )


def outbox_items(rule: RuleRecord, group_key: str, outbox: list[dict[str, Any]]) -> list[OutboxItem]:
    return [
        OutboxItem(
            rule.id,
            group_key,
            rule.spec,
            entry["id"],
            Notification.from_json(entry["notification"]),
            tuple(entry["channels"]),
        )
        for entry in outbox
    ]


def already_sent(meta: Any, notification: Notification, channel_ids: list[str]) -> set[str]:
    fingerprints = {notification.fingerprint(channel_id): channel_id for channel_id in channel_ids}
    if not fingerprints:
        return set()
    with meta.session() as session:
        rows = session.scalars(
            select(AlertNotification.fingerprint).where(
                AlertNotification.fingerprint.in_(list(fingerprints)), AlertNotification.status == "sent"
            )
        )
        return {fingerprints[fingerprint] for fingerprint in rows}


# A notification whose delivery failed is tried again on later cycles, for this long at the most.
RETRY_FOR = timedelta(hours=24)


def record_deliveries(meta: Any, item: OutboxItem, deliveries: list[Delivery], now: datetime) -> None:
    """Record each delivery under its fingerprint; take the entry out of the state's outbox once no
    channel is left to try (delivered, refused for good, or failing for longer than ``RETRY_FOR``)."""
    sent_at = datetime.now(timezone.utc)
    notification = item.notification
    with meta.session() as session:
        for delivery in deliveries:
            session.merge(
                AlertNotification(
                    fingerprint=notification.fingerprint(delivery.channel_id),
                    rule_id=item.rule_id,
                    group_key=item.group_key,
                    channel=delivery.channel_id,
                    kind=notification.kind,
                    sent_at=sent_at,
                    status="sent" if delivery.ok else "failed",
                    error=delivery.error[:2000],
                )
            )
            state = "resolved" if notification.kind == "resolved" else "firing"
            session.add(
                AlertEvent(
                    rule_id=item.rule_id,
                    group_key=item.group_key,
                    ts=notification.at,
                    from_state=state,
                    to_state=state,
                    value=_finite(notification.value),
                    threshold=notification.threshold,
                    tenant=notification.group.get("tenant") or item.spec.filters.tenant,
                    details={
                        "notification": notification.kind,
                        "channel": delivery.channel_id,
                        "ok": delivery.ok,
                        "error": delivery.error,
                    },
                )
            )
        retry = [
            d.channel_id
            for d in deliveries
            if not d.ok and d.retryable and now - notification.at < RETRY_FOR  # the evaluator's clock
        ]
        row = session.get(AlertState, (item.rule_id, item.group_key))
        if row is not None:
            details = dict(row.details or {})
            outbox = []
            for entry in details.get("outbox", []):
                if entry["id"] != item.entry_id:
                    outbox.append(entry)
                elif retry:
                    outbox.append({**entry, "channels": retry})  # the next cycle tries these again
            details["outbox"] = outbox
            row.details = details


def _finite(value: float | None) -> float | None:
    import math

    return value if value is None or math.isfinite(value) else None
