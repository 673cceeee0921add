"""``/api/v1/admin/*``: prices, tiers, API keys and re-pricing over HTTP (shapes in docs/admin-api.md).

Reads need a ``read`` key, changes an ``admin`` key. A tenant-bound key stays inside its tenant: it sees
global prices and its own tenant's, may add prices and keys for its own tenant only, and may re-price its
own tenant's history; the tier map and global prices are shared by every tenant, so changing them takes an
all-tenants admin key. Every handler is blocking (metadata DB, ClickHouse) and runs in the thread pool
(api/endpoint.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.routing import BaseRoute

from tiermix_server.api.endpoint import Call, endpoint
from tiermix_server.auth import Principal
from tiermix_server.errors import BadRequest, Conflict, Forbidden, NotFound
from tiermix_server.meta import keys as key_store
from tiermix_server.meta import stores
from tiermix_server.pricing.enricher import running_enricher
from tiermix_server.pricing.prices import parse_instant
from tiermix_server.pricing.tiers import build_tier_map

PREFIX = "/api/v1/admin"


class _Body(BaseModel):
    # allow_inf_nan=False: NaN and Infinity (which Python's JSON reader accepts) are refused with a 400
    # before anything is written; a NaN price once made every cost of its tenant NaN.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class PriceBody(_Body):
    model: str = Field(min_length=1, max_length=300)
    provider: str | None = Field(None, max_length=100)
    tenant: str | None = Field(None, max_length=200)
    kind: Literal["discount", "custom"]
    discount_pct: float | None = None
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    cache_read_usd_per_mtok: float | None = None
    cache_write_usd_per_mtok: float | None = None
    effective_from: str | None = None
    note: str = Field("", max_length=1000)


class RuleBody(_Body):
    model_pattern: str = Field(min_length=1, max_length=300)
    tier: str = Field(min_length=1, max_length=50)
    provider_pattern: str = Field("*", max_length=100)
    syntax: Literal["glob", "regex"] = "glob"
    priority: int = 1000
    note: str = Field("", max_length=1000)


class TierItem(_Body):
    name: str = Field(min_length=1, max_length=50)
    band_max_usd_per_mtok: float | None = None
    description: str = Field("", max_length=500)


class TiersBody(_Body):
    tiers: list[TierItem]


class KeyBody(_Body):
    scope: Literal["ingest", "read", "admin"]
    tenant: str | None = Field(None, min_length=1, max_length=200)
    name: str = Field("", max_length=200)


class RewriteBody(_Body):
    since: str
    tenant: str | None = None


def _parse(model: type[BaseModel], raw: bytes) -> Any:
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequest(f"{where}: {first['msg']}") from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _global_admin(principal: Principal, what: str) -> None:
    if principal.tenant is not None:
        raise Forbidden(f"{what} affects every tenant: it needs an all-tenants admin key")


def _own_tenant(principal: Principal, tenant: str | None) -> None:
    if principal.tenant is not None and tenant != principal.tenant:
        raise Forbidden(f"this API key is bound to tenant {principal.tenant!r}")


def _refresh_enricher(call: Call) -> None:
    enricher = getattr(call.runtime, "enricher", None)
    if enricher is not None and hasattr(enricher, "refresh"):
        enricher.refresh(force=True)


# ---- prices ---------------------------------------------------------------------------------------------


def _override_json(row: stores.OverrideRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant": row.tenant,
        "provider": row.provider,
        "model": row.model,
        "kind": row.kind,
        "discount_pct": row.discount_pct,
        "input_usd_per_mtok": row.input_usd_per_mtok,
        "output_usd_per_mtok": row.output_usd_per_mtok,
        "cache_read_usd_per_mtok": row.cache_read_usd_per_mtok,
        "cache_write_usd_per_mtok": row.cache_write_usd_per_mtok,
        "effective_from": _iso(row.effective_from),
        "note": row.note,
    }


def list_prices(call: Call) -> Any:
    rows = stores.list_overrides(call.meta)
    visible = [
        row for row in rows if call.principal.tenant is None or row.tenant in (None, call.principal.tenant)
    ]
    return {"overrides": [_override_json(row) for row in visible]}


def quote_price(call: Call) -> Any:
    query = call.query
    model = query.get("model", "").strip()
    if not model:
        raise BadRequest("model is required")
    provider = query.get("provider", "")
    tenant = query.get("tenant") or ""
    if call.principal.tenant is not None:
        _own_tenant(call.principal, tenant or call.principal.tenant)
        tenant = call.principal.tenant
    at = parse_instant(query["at"], what="at") if query.get("at") else datetime.now(timezone.utc)
    quote = running_enricher(call.runtime).quote(at, tenant, provider, model)
    segments = []
    if quote.table is not None:
        starts = (0, *quote.table.thresholds)
        for start, unit in zip(starts, quote.table.segments, strict=True):
            mtok = 1_000_000 * quote.factor
            segments.append(
                {
                    "above_input_tokens": start,
                    "input_usd_per_mtok": unit.input * mtok,
                    "output_usd_per_mtok": unit.output * mtok,
                    "cache_read_usd_per_mtok": unit.cache_read * mtok,
                    "cache_write_usd_per_mtok": unit.cache_write * mtok,
                    "request_usd": unit.request * quote.factor,
                }
            )
    return {
        "model": model,
        "provider": provider,
        "tenant": tenant or None,
        "at": _iso(at),
        "unpriced": quote.unpriced,
        "price_source": quote.source or None,
        "discount_factor": quote.factor,
        "blended_usd_per_mtok": quote.blended_usd_per_mtok,
        "segments": segments,
    }


def add_price(call: Call) -> Any:
    body: PriceBody = _parse(PriceBody, call.body)
    if body.tenant is None:
        _global_admin(call.principal, "a price for every tenant")
    _own_tenant(call.principal, body.tenant)
    fields = body.model_dump(exclude={"effective_from"})
    effective_from = (
        parse_instant(body.effective_from, what="effective_from")
        if body.effective_from
        else datetime.now(timezone.utc)
    )
    row = stores.add_override(call.meta, effective_from=effective_from, **fields)
    _refresh_enricher(call)
    return _override_json(row)


def delete_price(call: Call) -> Any:
    override_id = call.path_id("id")
    meta = call.meta
    row = next((row for row in stores.list_overrides(meta) if row.id == override_id), None)
    if row is None or (call.principal.tenant is not None and row.tenant != call.principal.tenant):
        raise NotFound(f"no price override {override_id}")
    stores.delete_override(meta, override_id)
    _refresh_enricher(call)
    return {"deleted": override_id}


# ---- tiers ----------------------------------------------------------------------------------------------


def _rule_json(row: stores.RuleRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "model_pattern": row.model_pattern,
        "provider_pattern": row.provider_pattern,
        "syntax": row.syntax,
        "tier": row.tier,
        "priority": row.priority,
        "note": row.note,
    }


def show_tiers(call: Call) -> Any:
    meta = call.meta
    rules = stores.list_rules(meta)
    tier_map = build_tier_map(stores.list_tiers(meta), rules)
    defaults = [rule for rule in tier_map.rules if rule.origin == "default"]
    return {
        "tiers": [
            {
                "name": t.name,
                "rank": rank,
                "band_max_usd_per_mtok": t.band_max_usd_per_mtok,
                "description": t.description,
            }
            for rank, t in enumerate(tier_map.tiers)
        ],
        "rules": [_rule_json(row) for row in rules],
        "default_rules": [
            {
                "model_pattern": r.model_pattern,
                "provider_pattern": r.provider_pattern,
                "syntax": r.syntax,
                "tier": r.tier,
                "priority": r.priority,
            }
            for r in defaults
        ],
    }


def explain_tier(call: Call) -> Any:
    model = call.query.get("model", "").strip()
    if not model:
        raise BadRequest("model is required")
    provider = call.query.get("provider", "")
    decision = running_enricher(call.runtime).explain(model, provider)
    return {
        "model": model,
        "provider": provider,
        "tier": decision.tier,
        "tier_source": decision.source,
        "detail": decision.detail,
    }


def add_tier_rule(call: Call) -> Any:
    _global_admin(call.principal, "the tier map")
    body: RuleBody = _parse(RuleBody, call.body)
    meta = call.meta
    known = build_tier_map(stores.list_tiers(meta), stores.list_rules(meta)).names
    if body.tier not in known:
        raise BadRequest(f"unknown tier {body.tier!r}: tiers are {', '.join(known)}")
    row = stores.add_rule(meta, **body.model_dump())
    _refresh_enricher(call)
    return _rule_json(row)


def delete_tier_rule(call: Call) -> Any:
    _global_admin(call.principal, "the tier map")
    rule_id = call.path_id("id")
    stores.delete_rule(call.meta, rule_id)
    _refresh_enricher(call)
    return {"deleted": rule_id}


def set_tier_list(call: Call) -> Any:
    _global_admin(call.principal, "the tier list")
    body: TiersBody = _parse(TiersBody, call.body)
    rows = [
        stores.TierRow(t.name, rank, t.band_max_usd_per_mtok, t.description)
        for rank, t in enumerate(body.tiers)
    ]
    stores.set_tiers(call.meta, rows)
    _refresh_enricher(call)
    return show_tiers(call)


# ---- keys -----------------------------------------------------------------------------------------------


def _key_json(info: key_store.KeyInfo) -> dict[str, Any]:
    return {
        "prefix": info.prefix,
        "scope": info.scope,
        "tenant": info.tenant,
        "name": info.name,
        "created_at": _iso(info.created_at),
        "last_used_at": _iso(info.last_used_at),
        "revoked_at": _iso(info.revoked_at),
        "active": info.active,
    }


def list_keys(call: Call) -> Any:
    keys = key_store.list_keys(call.meta)
    visible = [k for k in keys if call.principal.tenant is None or k.tenant == call.principal.tenant]
    return {"keys": [_key_json(info) for info in visible]}


def create_key(call: Call) -> Any:
    body: KeyBody = _parse(KeyBody, call.body)
    if call.principal.tenant is not None:
        _own_tenant(call.principal, body.tenant)
    created = key_store.create_key(call.meta, scope=body.scope, tenant=body.tenant, name=body.name)
    return {**_key_json(created.info), "key": created.key}


def revoke_key(call: Call) -> Any:
    prefix = str(call.request.path_params["prefix"])
    meta = call.meta
    found = next((k for k in key_store.list_keys(meta) if k.prefix == prefix), None)
    if found is None or (call.principal.tenant is not None and found.tenant != call.principal.tenant):
        raise NotFound(f"no API key {prefix!r}")
    if key_store.is_last_admin_key(meta, prefix) and call.query.get("force") != "true":
        raise Conflict(
            f"{prefix!r} is the last active all-tenants admin key: revoking it leaves nobody able to manage "
            "keys through the API (authentication stays on). Create another first, or repeat with "
            "?force=true; the server's host can always mint one with `tiermix keys create`"
        )
    return _key_json(key_store.revoke_key(meta, prefix))


# ---- reprice / retier -----------------------------------------------------------------------------------


def _rewrite(kind: str) -> Callable[[Call], Any]:
    def handler(call: Call) -> Any:
        from tiermix_server.pricing import reprice as rewrite

        body: RewriteBody = _parse(RewriteBody, call.body)
        tenant = body.tenant
        if call.principal.tenant is not None:
            if kind == "retier":
                _global_admin(call.principal, "re-tiering")
            _own_tenant(call.principal, tenant or call.principal.tenant)
            tenant = call.principal.tenant
        since = parse_instant(body.since, what="since")
        runtime = call.runtime
        function = rewrite.reprice if kind == "reprice" else rewrite.retier
        _refresh_enricher(call)
        return function(runtime.clickhouse, runtime.settings, call.meta, since, tenant).as_dict()

    return handler


def admin_routes() -> list[BaseRoute]:
    p = PREFIX
    return [
        endpoint("GET", f"{p}/prices", list_prices, scope="read"),
        endpoint("POST", f"{p}/prices", add_price, scope="admin", status=201),
        endpoint("GET", f"{p}/prices/quote", quote_price, scope="read"),
        endpoint("DELETE", f"{p}/prices/{{id:int}}", delete_price, scope="admin"),
        endpoint("GET", f"{p}/tiers", show_tiers, scope="read"),
        endpoint("PUT", f"{p}/tiers", set_tier_list, scope="admin"),
        endpoint("GET", f"{p}/tiers/explain", explain_tier, scope="read"),
        endpoint("POST", f"{p}/tiers/rules", add_tier_rule, scope="admin", status=201),
        endpoint("DELETE", f"{p}/tiers/rules/{{id:int}}", delete_tier_rule, scope="admin"),
        endpoint("GET", f"{p}/keys", list_keys, scope="admin"),
        endpoint("POST", f"{p}/keys", create_key, scope="admin", status=201),
        endpoint("DELETE", f"{p}/keys/{{prefix}}", revoke_key, scope="admin"),
        endpoint("POST", f"{p}/reprice", _rewrite("reprice"), scope="admin"),
        endpoint("POST", f"{p}/retier", _rewrite("retier"), scope="admin"),
    ]
