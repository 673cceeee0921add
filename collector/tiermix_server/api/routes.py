"""``/api/v1/*``: the query API of docs/architecture.md, interfaces (shapes documented in docs/api.md).

Each handler authenticates (scope ``read``; a tenant-bound key is confined to its tenant), parses its
parameters into a ``Filters`` (api/params.py), calls the metric (tiermix_server.metrics, the one
definition the dashboard and alerts share) and renders JSON or CSV. ClickHouse and the metadata DB are
blocking clients, so the work runs in Starlette's thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tiermix_server.api import params
from tiermix_server.api.auth import authenticate, read_tenant
from tiermix_server.api.render import FORMATS, respond
from tiermix_server.metrics.filters import Filters

Handler = Callable[["Query"], Response]


@dataclass(frozen=True, slots=True)
class Query:
    """One API call, parsed: the client, its validated filters, the raw query string, the format."""

    client: Any
    filters: Filters
    query: Any  # starlette QueryParams (a multi-dict)
    fmt: str
    path_params: dict[str, Any]


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _known_tenant(client: Any, tenant: str) -> bool:
    rows = client.query(
        "SELECT 1 FROM llm_calls_1h WHERE tenant = {tenant:String} LIMIT 1", parameters={"tenant": tenant}
    ).result_rows
    return bool(rows)


def _prepare(request: Request, interval: str) -> Query:
    principal = authenticate(request, "read")
    query = request.query_params
    fmt = params.choice(query, "format", FORMATS, "json")
    filters = params.filters(query, now_utc, interval)
    tenant = read_tenant(principal, filters.tenant)
    filters = filters.with_tenant(tenant)
    client = request.app.state.runtime.clickhouse
    # A tenant-bound key may look at its own tenant before it has data; anyone else naming a tenant
    # that never sent a call has most likely mistyped it.
    if tenant is not None and principal.tenant is None and not _known_tenant(client, tenant):
        raise params.UnknownTenant(f"unknown tenant {tenant[:64]!r}: no calls were ever recorded for it")
    return Query(client, filters, query, fmt, dict(request.path_params))


def endpoint(handler: Handler, *, interval_param: bool = False) -> Callable[[Request], Any]:
    """Wrap a synchronous handler: parse and authenticate, then run it in the thread pool."""

    def run(request: Request) -> Response:
        interval = ""
        if interval_param:
            interval = params.choice(request.query_params, "interval", ("1m", "1h", "1d"), "1h")
        return handler(_prepare(request, interval))

    async def wrapped(request: Request) -> Response:
        return await run_in_threadpool(run, request)

    return wrapped


def api_routes() -> list[BaseRoute]:
    from tiermix_server.api import handlers

    return [
        Route("/api/v1/summary", endpoint(handlers.summary_view), methods=["GET"]),
        Route("/api/v1/mix", endpoint(handlers.mix_view, interval_param=True), methods=["GET"]),
        Route("/api/v1/cost", endpoint(handlers.cost_view, interval_param=False), methods=["GET"]),
        Route("/api/v1/escalations", endpoint(handlers.escalations_view), methods=["GET"]),
        Route("/api/v1/drift", endpoint(handlers.drift_view), methods=["GET"]),
        Route("/api/v1/calls", endpoint(handlers.calls_view), methods=["GET"]),
        Route("/api/v1/requests/{request_id}", endpoint(handlers.request_view), methods=["GET"]),
        Route("/api/v1/health/data", endpoint(handlers.data_health_view), methods=["GET"]),
        Route("/api/v1/export/chargeback", endpoint(handlers.chargeback_view), methods=["GET"]),
    ]


__all__ = ["Query", "api_routes", "respond"]
