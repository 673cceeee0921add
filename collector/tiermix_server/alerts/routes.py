"""``/api/v1/alerts/*``: rules (CRUD, enable/disable, test), silences, current states and history.

Reads need scope ``read``, changes ``admin``. A tenant-bound key is confined to its tenant: it sees
global rules and its own, the states and events of its own groups, and may only create or change rules
scoped to its tenant. Channel secrets are shown once, in the answer that created them; afterwards they
read ``***``, and an update that sends ``***`` back keeps the stored secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tiermix_server.alerts import store
from tiermix_server.alerts.rules import (
    keep_secrets,
    parse_duration,
    parse_rule,
    redact,
    with_generated_secrets,
)
from tiermix_server.api.auth import Principal, authenticate
from tiermix_server.api.render import json_response
from tiermix_server.errors import BadRequest, Forbidden, NotFound


def alert_routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/alerts/rules", _list_rules, methods=["GET"]),
        Route("/api/v1/alerts/rules", _create_rule, methods=["POST"]),
        Route("/api/v1/alerts/rules/{rule_id:int}", _get_rule, methods=["GET"]),
        Route("/api/v1/alerts/rules/{rule_id:int}", _replace_rule, methods=["PUT"]),
        Route("/api/v1/alerts/rules/{rule_id:int}", _patch_rule, methods=["PATCH"]),
        Route("/api/v1/alerts/rules/{rule_id:int}", _delete_rule, methods=["DELETE"]),
        Route("/api/v1/alerts/rules/{rule_id:int}/test", _test_rule, methods=["POST"]),
        Route("/api/v1/alerts/silences", _list_silences, methods=["GET"]),
        Route("/api/v1/alerts/silences", _create_silence, methods=["POST"]),
        Route("/api/v1/alerts/silences/{silence_id:int}", _expire_silence, methods=["DELETE"]),
        Route("/api/v1/alerts/states", _list_states, methods=["GET"]),
        Route("/api/v1/alerts/events", _list_events, methods=["GET"]),
    ]


def rule_json(rule: store.RuleRecord, *, show_secrets: bool = False) -> dict[str, Any]:
    spec = rule.spec.to_json()
    return {
        "id": rule.id,
        **(spec if show_secrets else redact(spec)),
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def _meta(request: Request) -> Any:
    runtime = request.app.state.runtime
    if runtime.meta is None:
        from tiermix_server.meta.db import open_meta

        runtime.meta = open_meta(runtime.settings)
    return runtime.meta


READ_ONLY_FIELDS = ("id", "created_at", "updated_at")


def _editable(body: dict[str, Any]) -> dict[str, Any]:
    """A rule as GET returned it may be sent back: the fields the server owns are ignored."""
    return {key: value for key, value in body.items() if key not in READ_ONLY_FIELDS}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _visible(principal: Principal, rule: store.RuleRecord) -> bool:
    return principal.tenant is None or rule.tenant in (None, principal.tenant)


def _may_change(principal: Principal, tenant: str | None) -> None:
    if principal.tenant is not None and tenant != principal.tenant:
        raise Forbidden(f"this API key is bound to tenant {principal.tenant!r}: rules must filter on it")


def _readable_rule(request: Request, principal: Principal) -> store.RuleRecord:
    rule = store.get_rule(_meta(request), request.path_params["rule_id"])
    if not _visible(principal, rule):
        raise NotFound(f"no alert rule {rule.id}")
    return rule


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return await run_in_threadpool(function, *args)


# ---- rules ---------------------------------------------------------------------------------------------


async def _list_rules(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "read")
        rules = [rule_json(r) for r in store.list_rules(_meta(request)) if _visible(principal, r)]
        return json_response({"rules": rules})

    return await _in_thread(run)


async def _get_rule(request: Request) -> Response:
    def run() -> Response:
        return json_response(rule_json(_readable_rule(request, authenticate(request, "read"))))

    return await _in_thread(run)


async def _create_rule(request: Request) -> Response:
    body = await _body(request)

    def run() -> Response:
        principal = authenticate(request, "admin")
        spec = parse_rule(with_generated_secrets(body))
        _may_change(principal, spec.filters.tenant)
        return json_response(rule_json(store.create_rule(_meta(request), spec), show_secrets=True), 201)

    return await _in_thread(run)


async def _replace_rule(request: Request) -> Response:
    body = await _body(request)

    def run() -> Response:
        principal = authenticate(request, "admin")
        old = _readable_rule(request, principal)
        _may_change(principal, old.tenant)
        spec = parse_rule(with_generated_secrets(keep_secrets(_editable(body), old.spec.to_json())))
        _may_change(principal, spec.filters.tenant)
        return json_response(rule_json(store.replace_rule(_meta(request), old.id, spec)))

    return await _in_thread(run)


async def _patch_rule(request: Request) -> Response:
    """Change some fields (``{"enabled": false}``); nested objects are replaced, not merged."""
    body = await _body(request)

    def run() -> Response:
        principal = authenticate(request, "admin")
        old = _readable_rule(request, principal)
        _may_change(principal, old.tenant)
        stored = old.spec.to_json()
        spec = parse_rule(with_generated_secrets(keep_secrets({**stored, **_editable(body)}, stored)))
        _may_change(principal, spec.filters.tenant)
        return json_response(rule_json(store.replace_rule(_meta(request), old.id, spec)))

    return await _in_thread(run)


async def _delete_rule(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "admin")
        rule = _readable_rule(request, principal)
        _may_change(principal, rule.tenant)
        store.delete_rule(_meta(request), rule.id)
        return Response(status_code=204)

    return await _in_thread(run)


async def _test_rule(request: Request) -> Response:
    from tiermix_server.alerts.service import send_test

    principal = await _in_thread(authenticate, request, "admin")
    rule = await _in_thread(_readable_rule, request, principal)
    settings = request.app.state.runtime.settings
    deliveries = await send_test(_meta(request), rule, settings.dashboard_url)
    results = [{"channel": d.channel_id, "ok": d.ok, "error": d.error} for d in deliveries]
    return json_response({"rule_id": rule.id, "deliveries": results}, 200)


# ---- silences ------------------------------------------------------------------------------------------


async def _list_silences(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "read")
        active = request.query_params.get("active", "").lower() in ("1", "true", "yes")
        now = datetime.now(timezone.utc)
        silences = store.list_silences(_meta(request), active_at=now if active else None)
        if principal.tenant is not None:
            silences = [s for s in silences if s.group.get("tenant") == principal.tenant]
        return json_response({"silences": [s.to_json() for s in silences]})

    return await _in_thread(run)


async def _create_silence(request: Request) -> Response:
    """``{"rule_id": 3, "group": {"tenant": "acme"}, "duration": "2h", "comment": "..."}``.

    Without ``rule_id`` the silence covers every rule; without ``group`` every group. ``ends_at`` (ISO)
    may replace ``duration``; ``starts_at`` defaults to now.
    """
    body = await _body(request)

    def run() -> Response:
        principal = authenticate(request, "admin")
        silence = silence_from_body(body, datetime.now(timezone.utc), created_by=principal.key_id or "")
        if principal.tenant is not None and silence["group"].get("tenant") != principal.tenant:
            raise Forbidden(
                f"this API key is bound to tenant {principal.tenant!r}: silence that tenant's group"
            )
        record = store.create_silence(_meta(request), **silence)
        return json_response(record.to_json(), 201)

    return await _in_thread(run)


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
    starts_at = _time(body.get("starts_at"), "starts_at") or now
    ends_at = _time(body.get("ends_at"), "ends_at")
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


def _time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    from tiermix_server.api.params import timestamp

    if not isinstance(value, str):
        raise BadRequest(f"{name} must be an ISO-8601 time")
    return timestamp(value, name)


async def _expire_silence(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "admin")
        meta = _meta(request)
        silence_id = request.path_params["silence_id"]
        if principal.tenant is not None:
            mine = [s for s in store.list_silences(meta) if s.id == silence_id]
            if not mine or mine[0].group.get("tenant") != principal.tenant:
                raise NotFound(f"no silence {silence_id}")
        record = store.expire_silence(meta, silence_id, datetime.now(timezone.utc))
        return json_response(record.to_json())

    return await _in_thread(run)


# ---- states and events ---------------------------------------------------------------------------------


def _rule_filter(request: Request) -> int | None:
    value = request.query_params.get("rule_id")
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise BadRequest("rule_id must be an integer")
    return int(value)


async def _list_states(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "read")
        meta = _meta(request)
        states = store.list_states(meta, _rule_filter(request))
        if principal.tenant is not None:
            owners = {rule.id: rule.tenant for rule in store.list_rules(meta)}
            states = [
                s for s in states if s["group"].get("tenant", owners.get(s["rule_id"])) == principal.tenant
            ]
        return json_response({"states": states})

    return await _in_thread(run)


async def _list_events(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "read")
        query = request.query_params
        since = _time(query.get("since") or None, "since")
        try:
            limit = min(max(int(query.get("limit", "200")), 1), 1000)
        except ValueError:
            raise BadRequest("limit must be an integer") from None
        events = store.list_events(
            _meta(request), rule_id=_rule_filter(request), since=since, tenant=principal.tenant, limit=limit
        )
        return json_response({"events": events})

    return await _in_thread(run)
