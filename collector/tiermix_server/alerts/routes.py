"""``/api/v1/alerts/*``: rules (CRUD, enable/disable, test), current states and history (+ silences).

Reads need scope ``read``, changes ``admin``. A tenant-bound key is confined to its tenant: it sees
global rules and its own, the states and events of its own groups, and may only create or change rules
scoped to its tenant. Channel secrets are shown once, in the answer that created them; afterwards they
read ``***``, and an update that sends ``***`` back keeps the stored secret.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tiermix_server.alerts import store
from tiermix_server.alerts.channel_secrets import keep_secrets, redact, with_generated_secrets
from tiermix_server.alerts.destinations import DestinationRefused, Unresolvable, endpoint, policy_for
from tiermix_server.alerts.http import in_thread, json_body, meta_of, time_param
from tiermix_server.alerts.rules import RuleSpec, parse_rule
from tiermix_server.alerts.silence_routes import silence_routes
from tiermix_server.api.auth import Principal, authenticate
from tiermix_server.api.params import row_id
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
        *silence_routes(),
        Route("/api/v1/alerts/states", _list_states, methods=["GET"]),
        Route("/api/v1/alerts/events", _list_events, methods=["GET"]),
    ]


def rule_json(
    rule: store.RuleRecord, *, show_secrets: bool = False, principal: Principal | None = None
) -> dict[str, Any]:
    spec = rule.spec.to_json()
    # A tenant-bound key may read a global (operator's) rule, but not where it notifies.
    targets = principal is None or principal.tenant is None or rule.tenant is not None
    return {
        "id": rule.id,
        **(spec if show_secrets else redact(spec, targets=targets)),
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


READ_ONLY_FIELDS = ("id", "created_at", "updated_at")


def _editable(body: dict[str, Any]) -> dict[str, Any]:
    """A rule as GET returned it may be sent back: the fields the server owns are ignored."""
    return {key: value for key, value in body.items() if key not in READ_ONLY_FIELDS}


def _visible(principal: Principal, rule: store.RuleRecord) -> bool:
    return principal.tenant is None or rule.tenant in (None, principal.tenant)


def _may_change(principal: Principal, tenant: str | None) -> None:
    if principal.tenant is not None and tenant != principal.tenant:
        raise Forbidden(f"this API key is bound to tenant {principal.tenant!r}: rules must filter on it")


def _check_destinations(request: Request, spec: RuleSpec) -> None:
    """Refuse a channel the policy forbids at once (it is checked again, resolved afresh, at each send)."""
    policy = policy_for(spec.filters.tenant, request.app.state.runtime.settings.channel_allow)
    for index, channel in enumerate(spec.channels):
        try:
            policy.resolve(*endpoint(channel))
        except Unresolvable:
            continue  # may resolve later (DNS being set up): judged at each send
        except DestinationRefused as exc:
            raise BadRequest(f"channels.{index}: {exc}") from None


def _readable_rule(request: Request, principal: Principal) -> store.RuleRecord:
    rule = store.get_rule(meta_of(request), row_id(request.path_params["rule_id"], "rule_id"))
    if not _visible(principal, rule):
        raise NotFound(f"no alert rule {rule.id}")
    return rule


# ---- rules ---------------------------------------------------------------------------------------------


async def _list_rules(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "read")
        rules = [
            rule_json(r, principal=principal)
            for r in store.list_rules(meta_of(request))
            if _visible(principal, r)
        ]
        return json_response({"rules": rules})

    return await in_thread(run)


async def _get_rule(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "read")
        return json_response(rule_json(_readable_rule(request, principal), principal=principal))

    return await in_thread(run)


async def _create_rule(request: Request) -> Response:
    body = await json_body(request)

    def run() -> Response:
        principal = authenticate(request, "admin")
        spec = parse_rule(with_generated_secrets(body))
        _may_change(principal, spec.filters.tenant)
        _check_destinations(request, spec)
        return json_response(rule_json(store.create_rule(meta_of(request), spec), show_secrets=True), 201)

    return await in_thread(run)


async def _replace_rule(request: Request) -> Response:
    body = await json_body(request)

    def run() -> Response:
        principal = authenticate(request, "admin")
        old = _readable_rule(request, principal)
        _may_change(principal, old.tenant)
        spec = parse_rule(with_generated_secrets(keep_secrets(_editable(body), old.spec.to_json())))
        _may_change(principal, spec.filters.tenant)
        _check_destinations(request, spec)
        return json_response(rule_json(store.replace_rule(meta_of(request), old.id, spec)))

    return await in_thread(run)


async def _patch_rule(request: Request) -> Response:
    """Change some fields (``{"enabled": false}``); nested objects are replaced, not merged."""
    body = await json_body(request)

    def run() -> Response:
        principal = authenticate(request, "admin")
        old = _readable_rule(request, principal)
        _may_change(principal, old.tenant)
        stored = old.spec.to_json()
        spec = parse_rule(with_generated_secrets(keep_secrets({**stored, **_editable(body)}, stored)))
        _may_change(principal, spec.filters.tenant)
        _check_destinations(request, spec)
        return json_response(rule_json(store.replace_rule(meta_of(request), old.id, spec)))

    return await in_thread(run)


async def _delete_rule(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "admin")
        rule = _readable_rule(request, principal)
        _may_change(principal, rule.tenant)
        store.delete_rule(meta_of(request), rule.id)
        return Response(status_code=204)

    return await in_thread(run)


async def _test_rule(request: Request) -> Response:
    from tiermix_server.alerts.service import send_test

    principal = await in_thread(authenticate, request, "admin")
    rule = await in_thread(_readable_rule, request, principal)
    settings = request.app.state.runtime.settings
    deliveries = await send_test(meta_of(request), rule, settings.dashboard_url, settings.channel_allow)
    # A tenant key learns whether delivery worked, not why not: the reasons (refused, timed out, port
    # closed) would map the operator's network for it.
    detail = principal.tenant is None
    results = [
        {"channel": d.channel_id, "ok": d.ok, "error": d.error if detail or d.ok else "delivery failed"}
        for d in deliveries
    ]
    return json_response({"rule_id": rule.id, "deliveries": results}, 200)


# ---- states and events ---------------------------------------------------------------------------------


def _rule_filter(request: Request) -> int | None:
    value = request.query_params.get("rule_id")
    if value in (None, ""):
        return None
    return row_id(value, "rule_id")


async def _list_states(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "read")
        meta = meta_of(request)
        states = store.list_states(meta, _rule_filter(request))
        if principal.tenant is not None:
            owners = {rule.id: rule.tenant for rule in store.list_rules(meta)}
            states = [
                s for s in states if s["group"].get("tenant", owners.get(s["rule_id"])) == principal.tenant
            ]
        return json_response({"states": states})

    return await in_thread(run)


async def _list_events(request: Request) -> Response:
    def run() -> Response:
        principal = authenticate(request, "read")
        query = request.query_params
        since = time_param(query.get("since") or None, "since")
        try:
            limit = min(max(int(query.get("limit", "200")), 1), 1000)
        except ValueError:
            raise BadRequest("limit must be an integer") from None
        events = store.list_events(
            meta_of(request), rule_id=_rule_filter(request), since=since, tenant=principal.tenant, limit=limit
        )
        return json_response({"events": events})

    return await in_thread(run)
