"""``/v1/traces``, ``/v1/metrics``, ``/v1/logs``: the OTLP/HTTP receivers (ingest/receive.py does the work).

Scope ``ingest``; the body is read by the receiver itself, under a size limit and a deadline, and
every error (a wrong key included) is answered as OTLP asks: a ``google.rpc.Status`` in the request's
own content type, not the query API's JSON error.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute

from tiermix_server.api.endpoint import Call, endpoint
from tiermix_server.ingest import receive


def otlp_routes() -> list[BaseRoute]:
    return [
        endpoint("POST", "/v1/traces", traces, scope="ingest", stream_body=True, on_error=receive.refused),
        endpoint(
            "POST", "/v1/metrics", metrics, scope="ingest", stream_body=True, on_error=receive.answer_error
        ),
        endpoint("POST", "/v1/logs", logs, scope="ingest", stream_body=True, on_error=receive.answer_error),
    ]


async def traces(call: Call) -> Response:
    return await receive.receive_traces(call.request, call.principal)


async def metrics(call: Call) -> Response:
    return await receive.receive_ignored(call.request, "metrics")


async def logs(call: Call) -> Response:
    return await receive.receive_ignored(call.request, "logs")
