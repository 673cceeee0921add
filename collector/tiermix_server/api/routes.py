"""``/api/v1/*``: the query API of docs/architecture.md, interfaces (shapes documented in docs/api.md).

Every route reads with scope ``read`` (a tenant-bound key is confined to its tenant). ``query_view``
(api/query.py) parses the parameters into a ``Filters``; the view in api/handlers.py calls the metric
(tiermix_server.metrics, the one definition the dashboard and alerts share) and renders JSON or CSV.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from tiermix_server.api import handlers as h
from tiermix_server.api.endpoint import endpoint
from tiermix_server.api.query import query_view


def api_routes() -> list[BaseRoute]:
    return [
        endpoint("GET", "/api/v1/summary", query_view(h.summary_view), scope="read"),
        endpoint("GET", "/api/v1/mix", query_view(h.mix_view, interval_param=True), scope="read"),
        endpoint("GET", "/api/v1/cost", query_view(h.cost_view), scope="read"),
        endpoint("GET", "/api/v1/escalations", query_view(h.escalations_view), scope="read"),
        endpoint("GET", "/api/v1/dimensions", query_view(h.dimensions_view), scope="read"),
        endpoint("GET", "/api/v1/drift", query_view(h.drift_view), scope="read"),
        endpoint("GET", "/api/v1/calls", query_view(h.calls_view), scope="read"),
        endpoint("GET", "/api/v1/requests/{request_id}", query_view(h.request_view), scope="read"),
        endpoint("GET", "/api/v1/health/data", query_view(h.data_health_view), scope="read"),
        endpoint("GET", "/api/v1/export/chargeback", query_view(h.chargeback_view), scope="read"),
        endpoint("GET", "/api/v1/opportunities", query_view(h.opportunities_view), scope="read"),
        endpoint("GET", "/api/v1/routing/whatif", query_view(h.whatif_view), scope="read"),
    ]
