"""``/api/v1/bills/*`` and ``/api/v1/reconciliation``: the providers' bills against tiermix's figures
(docs/reconciliation.md).

A bill is the organization's, not a tenant's: every route here needs a key for **all tenants** — admin
to manage sources, sync and import, read to see the reconciliation. A tenant-bound key gets 403. Source
admin keys are accepted, stored, and never returned (``"admin_key": "set"``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from starlette.routing import BaseRoute

from tiermix_server.api.endpoint import Call, endpoint
from tiermix_server.errors import BadRequest, Forbidden, NotFound
from tiermix_server.meta import bill_sources

MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_RECONCILE_DAYS = 400
DEFAULT_DAYS = 30


def bill_routes() -> list[BaseRoute]:
    return [
        endpoint("GET", "/api/v1/bills/sources", list_sources, scope="admin"),
        endpoint("PUT", "/api/v1/bills/sources", put_source, scope="admin"),
        endpoint("DELETE", "/api/v1/bills/sources/{name}", delete_source, scope="admin"),
        endpoint("POST", "/api/v1/bills/sync", sync, scope="admin"),
        endpoint("POST", "/api/v1/bills/import", import_bill, scope="admin"),
        endpoint("GET", "/api/v1/reconciliation", reconciliation, scope="read"),
    ]


def _organization(call: Call) -> None:
    if call.principal.tenant is not None:
        raise Forbidden("a provider's bill is the whole organization's: this needs an all-tenants key")


def list_sources(call: Call) -> Any:
    _organization(call)
    return {"sources": [s.to_json() for s in bill_sources.list_sources(call.meta)]}


def put_source(call: Call) -> Any:
    """``{"name": "openai-org", "kind": "openai", "admin_key": "sk-admin-…", "backfill_days": 30}``."""
    _organization(call)
    body = call.json()
    try:
        bill_sources.get_source(call.meta, str(body.get("name")))
        replacing = True
    except NotFound:
        replacing = False
    return bill_sources.put_source(call.meta, bill_sources.validate(body, replacing=replacing)).to_json()


def delete_source(call: Call) -> Any:
    _organization(call)
    name = call.request.path_params["name"]
    bill_sources.delete_source(call.meta, name)
    return {"deleted": name}


def sync(call: Call) -> Any:
    """Sync now: ``{"source": NAME}`` (default every enabled API source), ``{"days": N}`` a backfill."""
    from tiermix_server.bills.sync import sync_all

    _organization(call)
    body = call.json()
    name, days = body.get("source"), body.get("days")
    if name is not None and not isinstance(name, str):
        raise BadRequest("source must be a source name")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365):
        raise BadRequest("days must be an integer from 1 to 365")
    results = sync_all(call.runtime.clickhouse, call.meta, name=name, days=days)
    return {"synced": [r.to_json() for r in results]}


def import_bill(call: Call) -> Any:
    """A CSV or FOCUS file as the body; ``?source=NAME`` (created as an import source when new),
    ``&provider=`` for a file that does not say."""
    from tiermix_server.bills.bill import BillFetchError
    from tiermix_server.bills.focus import parse
    from tiermix_server.bills.store import write_bill

    _organization(call)
    name = call.query.get("source") or ""
    values = bill_sources.validate({"name": name, "kind": "import"})
    if len(call.body) > MAX_IMPORT_BYTES:
        raise BadRequest(f"the file is over {MAX_IMPORT_BYTES // (1024 * 1024)} MiB: split it")
    try:
        text = call.body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the file is not UTF-8 text") from None
    try:
        existing = bill_sources.get_source(call.meta, name)
        if existing.kind != "import":
            raise BadRequest(f"source {name!r} is synced from the {existing.kind} API, not imported")
    except NotFound:
        bill_sources.put_source(call.meta, values)
    try:
        imported = parse(text, call.query.get("provider") or None)
    except BillFetchError as exc:
        raise BadRequest(str(exc)) from None
    write_bill(call.runtime.clickhouse, name, imported.bill)
    days = imported.bill.days
    bill_sources.record_sync(call.meta, name, synced_through=max(days) if days else None,
                             at=datetime.now(timezone.utc), error="")  # fmt: skip
    return {
        "source": name,
        "format": imported.format,
        "rows": imported.rows,
        "days": len(days),
        "first_day": min(days).isoformat() if days else None,
        "last_day": max(days).isoformat() if days else None,
        "billed_usd": sum(line.cost_usd for line in imported.bill.lines),
        "not_usage_rows": imported.not_usage_rows,
        "not_usage_usd": imported.not_usage_usd,
    }


def _day(call: Call, name: str, default: date) -> date:
    text = call.query.get(name)
    if not text:
        return default
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise BadRequest(f"{name} must be a date, YYYY-MM-DD") from None


def reconciliation(call: Call) -> Any:
    """``?start=YYYY-MM-DD&end=YYYY-MM-DD`` (end exclusive; default the last 30 days up to today),
    ``&provider=``."""
    from tiermix_server.metrics.reconciliation import reconcile

    _organization(call)
    today = datetime.now(timezone.utc).date()
    end = _day(call, "end", today + timedelta(days=1))
    start = _day(call, "start", end - timedelta(days=DEFAULT_DAYS))
    if not start < end or (end - start).days > MAX_RECONCILE_DAYS:
        raise BadRequest(f"start must be before end, at most {MAX_RECONCILE_DAYS} days apart")
    found = reconcile(call.runtime.clickhouse, start, end, call.query.get("provider") or None)
    return {
        "start": found.start.isoformat(),
        "end": found.end.isoformat(),
        "sources": found.sources,
        "billed_usd": found.billed_usd,
        "tracked_usd": found.tracked_usd,
        "gap_usd": found.billed_usd - found.tracked_usd,
        "coverage": found.coverage,
        "causes": found.causes,
        "days": found.days,
        "rows": [row.to_json() for row in found.rows],
    }
