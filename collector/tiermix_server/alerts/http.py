"""Request helpers shared by the alert routes: the metadata DB, a JSON body, times, the thread pool."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tiermix_server.errors import BadRequest


def meta_of(request: Request) -> Any:
    runtime = request.app.state.runtime
    if runtime.meta is None:
        from tiermix_server.meta.db import open_meta

        runtime.meta = open_meta(runtime.settings)
    return runtime.meta


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def time_param(value: Any, name: str) -> datetime | None:
    """An optional ISO-8601 time (no offset means UTC)."""
    if value is None:
        return None
    from tiermix_server.api.params import timestamp

    if not isinstance(value, str):
        raise BadRequest(f"{name} must be an ISO-8601 time")
    return timestamp(value, name)


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """The metadata DB and ClickHouse clients block: run handlers in Starlette's thread pool."""
    return await run_in_threadpool(function, *args)
