"""``/api/v1/alerts/silences``: mute notifications of a rule (or all) and some groups until a time.

Reads need scope ``read``, changes ``admin``; a tenant-bound key sees and sets only silences of its own
tenant's groups. Silences end; they are not deleted (``DELETE`` ends one now and keeps the record).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.routing import BaseRoute

from tiermix_server.alerts import store
from tiermix_server.alerts.rules import parse_duration
from tiermix_server.api.endpoint import Call, endpoint
from tiermix_server.api.params import time_param
from tiermix_server.errors import BadRequest, Forbidden, NotFound


def silence_routes() -> list[BaseRoute]:
    return [
        endpoint("GET", "/api/v1/alerts/silences", list_silences, scope="read"),
        endpoint("POST", "/api/v1/alerts/silences", create_silence, scope="admin", status=201),
        endpoint("DELETE", "/api/v1/alerts/silences/{silence_id:int}", expire_silence, scope="admin"),
    ]


def list_silences(call: Call) -> Any:
    principal = call.principal
    active = call.query.get("active", "").lower() in ("1", "true", "yes")
    now = datetime.now(timezone.utc)
    silences = store.list_silences(call.meta, active_at=now if active else None)
    if principal.tenant is not None:
        silences = [s for s in silences if s.group.get("tenant") == principal.tenant]
    return {"silences": [s.to_json() for s in silences]}


def create_silence(call: Call) -> Any:
    """``{"rule_id": 3, "group": {"tenant": "acme"}, "duration": "2h", "comment": "..."}``.

    Without ``rule_id`` the silence covers every rule; without ``group`` every group. ``ends_at`` (ISO)
    may replace ``duration``; ``starts_at`` defaults to now.
    """
    principal = call.principal
    silence = silence_from_body(call.json(), datetime.now(timezone.utc), created_by=principal.key_id or "")
    if principal.tenant is not None and silence["group"].get("tenant") != principal.tenant:
        raise Forbidden(f"this API key is bound to tenant {principal.tenant!r}: silence that tenant's group")
    return store.create_silence(call.meta, **silence).to_json()


def silence_from_body(body: dict[str, Any], now: datetime, *, created_by: str) -> dict[str, Any]:
    unknown = set(body) - {"rule_id", "group", "duration", "starts_at", "ends_at", "comment"}
    if unknown:
        raise BadRequest(f"unknown silence fields: {', '.join(sorted(unknown))}")
    rule_id = body.get("rule_id")
    if rule_id is not None and (not isinstance(rule_id, int) or isinstance(rule_id, bool)):
        raise BadRequest("rule_id must be an integer")
    group = body.get("group") or {}
    if not isinstance(group, dict) or not all(
        key in ("tenant", "route") and isinstance(value, str) for key, value in group.items()
    ):
        raise BadRequest('group must be an object like {"tenant": "acme", "route": "support.answer"}')
    starts_at = time_param(body.get("starts_at"), "starts_at") or now
    ends_at = time_param(body.get("ends_at"), "ends_at")
    if ends_at is None:
        if "duration" not in body:
            raise BadRequest("a silence needs a duration (e.g. '2h') or ends_at")
        try:
            ends_at = starts_at + timedelta(seconds=parse_duration(body["duration"]))
        except ValueError as exc:
            raise BadRequest(f"duration: {exc}") from None
    comment = body.get("comment", "")
    if not isinstance(comment, str):
        raise BadRequest("comment must be text")
    return {
        "rule_id": rule_id,
        "group": group,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "created_by": created_by,
        "comment": comment[:2000],
    }


def expire_silence(call: Call) -> Any:
    principal = call.principal
    meta = call.meta
    silence_id = call.path_id("silence_id")
    if principal.tenant is not None:
        mine = [s for s in store.list_silences(meta) if s.id == silence_id]
        if not mine or mine[0].group.get("tenant") != principal.tenant:
            raise NotFound(f"no silence {silence_id}")
    return store.expire_silence(meta, silence_id, datetime.now(timezone.utc)).to_json()
