"""One query-API call, parsed: the ``Query`` every metric view of api/handlers.py takes.

ClickHouse and the metadata DB are blocking clients, so views run in Starlette's thread pool (the
endpoint declaration does that, api/endpoint.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.responses import Response

from tiermix_server.api import params
from tiermix_server.api.endpoint import Call
from tiermix_server.api.render import FORMATS
from tiermix_server.auth import read_tenant
from tiermix_server.metrics.filters import Filters
from tiermix_server.pricing.enricher import configured_tier_map

Handler = Callable[["Query"], Response]


@dataclass(frozen=True, slots=True)
class Query:
    """One API call, parsed: the client, its validated filters, the raw query string, the format."""

    client: Any
    filters: Filters
    query: Any  # starlette QueryParams (a multi-dict)
    fmt: str
    path_params: dict[str, Any]
    tier_list: tuple[str, ...]  # the tier map in force, bottom … top
    runtime: Any  # for views that price (opportunities: the enricher's price book)
    organization: bool = False  # the key reads every tenant (it may see the organization's bills)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _known_tenant(client: Any, tenant: str) -> bool:
    rows = client.query(
        "SELECT 1 FROM llm_calls_1h WHERE tenant = {tenant:String} LIMIT 1", parameters={"tenant": tenant}
    ).result_rows
    return bool(rows)


def _prepare(call: Call, interval: str) -> Query:
    query = call.query
    fmt = params.choice(query, "format", FORMATS, "json")
    tiers = configured_tier_map(call.runtime.enricher, call.meta)
    filters = params.filters(query, now_utc, interval, (tiers.bottom, tiers.top))
    tenant = read_tenant(call.principal, filters.tenant)
    filters = filters.with_tenant(tenant)
    client = call.runtime.clickhouse
    # A tenant-bound key may look at its own tenant before it has data; anyone else naming a tenant
    # that never sent a call has most likely mistyped it.
    if tenant is not None and call.principal.tenant is None and not _known_tenant(client, tenant):
        raise params.UnknownTenant(f"unknown tenant {tenant[:64]!r}: no calls were ever recorded for it")
    organization = call.principal.tenant is None
    return Query(
        client, filters, query, fmt, dict(call.request.path_params), tiers.names, call.runtime, organization
    )


def query_view(handler: Handler, *, interval_param: bool = False) -> Callable[[Call], Response]:
    """Adapt a metric view (``Query`` → ``Response``) to an endpoint handler: parse, then run it."""

    def run(call: Call) -> Response:
        interval = ""
        if interval_param:
            interval = params.choice(call.query, "interval", ("1m", "1h", "1d"), "1h")
        return handler(_prepare(call, interval))

    run.__name__ = handler.__name__
    return run
