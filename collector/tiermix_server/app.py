"""``create_app(settings)``: the collector's composition root.

No I/O happens at import time. The lifespan opens storage, applies migrations, starts the ingest
pipeline and the alert evaluator, and stops them again in reverse order; every long-lived object is
kept on one ``Runtime`` (``app.state.runtime``). Every route is declared in api/ with
``endpoint(..., scope=...)`` (api/endpoint.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tiermix_server.errors import Overloaded, TiermixError
from tiermix_server.runtime import Runtime
from tiermix_server.settings import Settings

log = logging.getLogger("tiermix.server")


def error_response(exc: TiermixError) -> Response:
    """The JSON error shape of docs/architecture.md, interfaces: ``{"error": {"code", "message"}}``."""
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Overloaded) else None
    return JSONResponse(
        {"error": {"code": exc.code, "message": str(exc)}}, status_code=exc.http_status, headers=headers
    )


async def _on_tiermix_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TiermixError)
    return error_response(exc)


def create_app(settings: Settings, *, on_started: Callable[[], None] | None = None) -> Starlette:
    """The collector app; ``on_started`` runs once every component has started (``serve_collector``)."""
    from tiermix_server.api.admin import admin_routes
    from tiermix_server.api.alert_routes import alert_routes
    from tiermix_server.api.bill_routes import bill_routes
    from tiermix_server.api.budget_routes import budget_routes
    from tiermix_server.api.ops import ops_routes
    from tiermix_server.api.otlp_routes import otlp_routes
    from tiermix_server.api.replay_routes import replay_routes
    from tiermix_server.api.routes import api_routes

    runtime = Runtime(settings=settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await start_components(runtime, stack)
            if on_started is not None:
                on_started()
            yield

    app = Starlette(
        routes=[
            *ops_routes(),
            *otlp_routes(),
            *api_routes(),
            *alert_routes(),
            *admin_routes(),
            *replay_routes(),
            *budget_routes(),
            *bill_routes(),
        ],
        lifespan=lifespan,
        exception_handlers={TiermixError: _on_tiermix_error},
    )
    app.state.runtime = runtime
    return app


async def start_components(runtime: Runtime, stack: contextlib.AsyncExitStack) -> None:
    """Open storage and start background work; ``stack`` stops it all in reverse order."""
    from tiermix_server.ingest.wiring import start_capture, start_decode_pool, start_pipeline
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = runtime.settings
    runtime.clickhouse = connect(settings)
    applied = migrate(runtime.clickhouse, settings)
    if applied:
        log.info("applied ClickHouse migrations: %s", ", ".join(applied))
    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing.enricher import build_enricher

    runtime.meta = open_meta(settings)  # applies pending metadata DB revisions on first open
    runtime.enricher = build_enricher(settings, runtime.meta)
    await start_capture(runtime, stack)
    await start_pipeline(runtime, stack)
    runtime.capture.stats = runtime.stats
    await start_decode_pool(runtime, stack)  # stopped before the pipeline: no job outlives it
    from tiermix_server.alerts.service import start_alerts

    await start_alerts(runtime, stack)
    from tiermix_server.replay.service import start_replays

    await start_replays(runtime, stack)  # stopped first: its last samples still reach ingest
    if settings.bills_sync_interval_s > 0:
        from tiermix_server.bills.sync import start_bill_sync

        await start_bill_sync(runtime, stack, settings.bills_sync_interval_s)
