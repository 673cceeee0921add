"""Operations endpoints: ``/healthz`` (the process answers), ``/readyz`` (it can take traffic now),
``/metrics`` (Prometheus text).

Only ``/healthz`` is open whatever the keys (docs/security.md): once any API key exists,
``/readyz`` and ``/metrics`` need a key with ``read`` scope (or ``admin``), because queue depth, spool
size and per-reason counters describe the deployment even though they carry no tenant's rows. While no
key exists (auth off, loopback only) they answer anyone, like every other route.

``/readyz`` is honest rather than optimistic: while ClickHouse writes fail the collector still accepts
spans into its spool, but it reports 503 so a load balancer prefers a healthy replica.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute

from tiermix_server.api.endpoint import PUBLIC, Call, endpoint

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def ops_routes() -> list[BaseRoute]:
    return [
        endpoint("GET", "/healthz", healthz, scope=PUBLIC),
        endpoint("GET", "/readyz", readyz, scope="read"),
        endpoint("GET", "/metrics", metrics, scope="read"),
    ]


async def healthz(_call: Call) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(call: Call) -> Response:
    pipeline = call.runtime.pipeline
    if pipeline is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    ready, reason = pipeline.readiness()
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "reason": reason}, status_code=200 if ready else 503
    )


async def metrics(call: Call) -> Response:
    stats = call.runtime.stats
    text = stats.render() if stats is not None else ""
    return PlainTextResponse(text, media_type=PROMETHEUS_TEXT)
