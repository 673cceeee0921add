"""``/api/v1/alerts/*``: rules (CRUD, enable/disable, test), current states and history (+ silences).

Reads need scope ``read``, changes ``admin``. A tenant-bound key is confined to its tenant: it sees
global rules and its own, the states and events of its own groups, and may only create or change rules
scoped to its tenant. Channel secrets are shown once, in the answer that created them; afterwards they
read ``***``, and an update that sends ``***`` back keeps the stored secret.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import BaseRoute

from tiermix_server.alerts import store
from tiermix_server.alerts.channel_secrets import keep_secrets, with_generated_secrets
from tiermix_server.alerts.destinations import DestinationRefused, Unresolvable, policy_for
from tiermix_server.alerts.destinations import endpoint as channel_endpoint
from tiermix_server.alerts.rule_view import rule_json
from tiermix_server.alerts.rules import RuleSpec, parse_rule
from tiermix_server.api.endpoint import Call, endpoint
from tiermix_server.api.params import row_id, time_param
from tiermix_server.api.silence_routes import silence_routes
from tiermix_server.auth import Principal
from tiermix_server.errors import BadRequest, Forbidden, NotFound


def alert_routes() -> list[BaseRoute]:
    rules, rule = "/api/v1/alerts/rules", "/api/v1/alerts/rules/{rule_id:int}"
    return [
        endpoint("GET", rules, list_rules, scope="read"),
        endpoint("POST", rules, create_rule, scope="admin", status=201),
        endpoint("GET", rule, get_rule, scope="read"),
        endpoint("PUT", rule, replace_rule, scope="admin"),
        endpoint("PATCH", rule, patch_rule, scope="admin"),
        endpoint("DELETE", rule, delete_rule, scope="admin"),
        endpoint("POST", f"{rule}/test", test_rule, scope="admin"),
        *silence_routes(),
        endpoint("GET", "/api/v1/alerts/states", list_states, scope="read"),
        endpoint("GET", "/api/v1/alerts/events", list_events, scope="read"),
    ]


READ_ONLY_FIELDS = ("id", "created_at", "updated_at")


def _editable(body: dict[str, Any]) -> dict[str, Any]:
    """A rule as GET returned it may be sent back: the fields the server owns are ignored."""
    return {key: value for key, value in body.items() if key not in READ_ONLY_FIELDS}


def _visible(principal: Principal, rule: store.RuleRecord) -> bool:
    return principal.tenant is None or rule.tenant in (None, principal.tenant)


def _may_change(principal: Principal, tenant: str | None) -> None:
    if principal.tenant is not None and tenant != principal.tenant:
        raise Forbidden(f"this API key is bound to tenant {principal.tenant!r}: rules must filter on it")


def _check_destinations(call: Call, spec: RuleSpec) -> None:
    """Refuse a channel the policy forbids at once (it is checked again, resolved afresh, at each send)."""
    policy = policy_for(spec.filters.tenant, call.runtime.settings.channel_allow)
    for index, channel in enumerate(spec.channels):
        try:
            policy.resolve(*channel_endpoint(channel))
        except Unresolvable:
            continue  # may resolve later (DNS being set up): judged at each send
        except DestinationRefused as exc:
            raise BadRequest(f"channels.{index}: {exc}") from None


def _readable_rule(call: Call) -> store.RuleRecord:
    rule = store.get_rule(call.meta, call.path_id("rule_id"))
    if not _visible(call.principal, rule):
        raise NotFound(f"no alert rule {rule.id}")
    return rule


# ---- rules ---------------------------------------------------------------------------------------------


def list_rules(call: Call) -> Any:
    principal = call.principal
    rules = [rule_json(r, principal=principal) for r in store.list_rules(call.meta) if _visible(principal, r)]
    return {"rules": rules}


def get_rule(call: Call) -> Any:
    principal = call.principal
    return rule_json(_readable_rule(call), principal=principal)


def create_rule(call: Call) -> Any:
    body = call.json()
    principal = call.principal
    spec = parse_rule(with_generated_secrets(body))
    _may_change(principal, spec.filters.tenant)
    _check_destinations(call, spec)
    return rule_json(store.create_rule(call.meta, spec), show_secrets=True)


def replace_rule(call: Call) -> Any:
    body = call.json()
    principal = call.principal
    old = _readable_rule(call)
    _may_change(principal, old.tenant)
    spec = parse_rule(with_generated_secrets(keep_secrets(_editable(body), old.spec.to_json())))
    _may_change(principal, spec.filters.tenant)
    _check_destinations(call, spec)
    return rule_json(store.replace_rule(call.meta, old.id, spec))


def patch_rule(call: Call) -> Any:
    """Change some fields (``{"enabled": false}``); nested objects are replaced, not merged."""
    body = call.json()
    principal = call.principal
    old = _readable_rule(call)
    _may_change(principal, old.tenant)
    stored = old.spec.to_json()
    spec = parse_rule(with_generated_secrets(keep_secrets({**stored, **_editable(body)}, stored)))
    _may_change(principal, spec.filters.tenant)
    _check_destinations(call, spec)
    return rule_json(store.replace_rule(call.meta, old.id, spec))


def delete_rule(call: Call) -> Any:
    principal = call.principal
    rule = _readable_rule(call)
    _may_change(principal, rule.tenant)
    store.delete_rule(call.meta, rule.id)
    return Response(status_code=204)


async def test_rule(call: Call) -> Any:
    """Deliver a test notification to each channel now (async: deliveries run on the event loop)."""
    from tiermix_server.alerts.service import send_test

    principal = call.principal
    rule = await run_in_threadpool(_readable_rule, call)  # a blocking metadata-DB read
    settings = call.runtime.settings
    deliveries = await send_test(call.meta, rule, settings.dashboard_url, settings.channel_allow)
    # A tenant key learns whether delivery worked, not why not: the reasons (refused, timed out, port
    # closed) would map the operator's network for it.
    detail = principal.tenant is None
    results = [
        {"channel": d.channel_id, "ok": d.ok, "error": d.error if detail or d.ok else "delivery failed"}
        for d in deliveries
    ]
    return {"rule_id": rule.id, "deliveries": results}


# ---- states and events ---------------------------------------------------------------------------------


def _rule_filter(call: Call) -> int | None:
    value = call.query.get("rule_id")
    if value in (None, ""):
        return None
    return row_id(value, "rule_id")


def list_states(call: Call) -> Any:
    principal = call.principal
    meta = call.meta
    states = store.list_states(meta, _rule_filter(call))
    if principal.tenant is not None:
        owners = {rule.id: rule.tenant for rule in store.list_rules(meta)}
        states = [s for s in states if s["group"].get("tenant", owners.get(s["rule_id"])) == principal.tenant]
    return {"states": states}


def list_events(call: Call) -> Any:
    principal = call.principal
    query = call.query
    since = time_param(query.get("since") or None, "since")
    try:
        limit = min(max(int(query.get("limit", "200")), 1), 1000)
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    events = store.list_events(
        call.meta, rule_id=_rule_filter(call), since=since, tenant=principal.tenant, limit=limit
    )
    return {"events": events}
