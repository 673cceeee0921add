"""The one way to declare an HTTP endpoint: ``endpoint(method, path, handler, scope=...)``.

``scope`` is a required keyword, so a route cannot be written without deciding who may call it: the
caller is authenticated (auth.py) before the handler runs, and the handler receives the ``Principal`` in
its ``Call``. ``PUBLIC`` is the one explicit exception (``/healthz``: a liveness probe has no key).

Handlers are plain functions of one ``Call``. A synchronous handler runs in Starlette's thread pool,
because the metadata DB and ClickHouse clients block; an ``async`` one runs on the event loop (alert
test deliveries, OTLP receive). Whatever a handler returns that is not a ``Response`` is sent as JSON
with ``status``. The request body is read before the handler runs, except with ``stream_body=True``
(the OTLP receivers read it themselves, under a size limit and a deadline).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tiermix_server.api.params import row_id
from tiermix_server.api.render import json_response
from tiermix_server.auth import Principal, Scope, authenticate
from tiermix_server.errors import BadRequest, TiermixError

PUBLIC: Literal["public"] = "public"
# What a PUBLIC handler is given: nobody in particular, with no tenant and no rights.
ANONYMOUS = Principal("public", None, None)
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ErrorRenderer = Callable[[Request, TiermixError], Response]


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated request, as a handler sees it."""

    request: Request
    principal: Principal
    body: bytes = b""

    @property
    def runtime(self) -> Any:
        return self.request.app.state.runtime

    @property
    def meta(self) -> Any:
        return self.runtime.metadata()

    @property
    def query(self) -> Any:
        """The query string, a starlette ``QueryParams`` multi-dict."""
        return self.request.query_params

    def path_id(self, name: str) -> int:
        return row_id(self.request.path_params[name], name)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (``{}`` when empty)."""
        try:
            body = json.loads(self.body or b"{}")
        except ValueError:
            raise BadRequest("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body


Handler = Callable[[Call], Any] | Callable[[Call], Awaitable[Any]]


def endpoint(
    method: Method,
    path: str,
    handler: Handler,
    *,
    scope: Scope | Literal["public"],
    status: int = 200,
    stream_body: bool = False,
    on_error: ErrorRenderer | None = None,
) -> Endpoint:
    """A route that authenticates for ``scope`` and then calls ``handler(Call)``.

    ``on_error`` renders a ``TiermixError`` (authentication included) in the route's own wire format;
    without it the app's JSON error shape is used (app.py).
    """
    is_async = inspect.iscoroutinefunction(handler)

    async def run(request: Request) -> Response:
        try:
            if scope == PUBLIC:
                principal = ANONYMOUS
            else:
                # The key lookup is a blocking metadata-DB read: keep it off the event loop.
                principal = await run_in_threadpool(authenticate, request, scope)
            body = b"" if stream_body or method in ("GET", "DELETE") else await request.body()
            call = Call(request, principal, body)
            result = await handler(call) if is_async else await run_in_threadpool(handler, call)
        except TiermixError as exc:
            if on_error is None:
                raise
            return on_error(request, exc)
        return result if isinstance(result, Response) else json_response(result, status)

    run.__name__ = getattr(handler, "__name__", "endpoint")
    return Endpoint(path, run, method=method, scope=scope, handler=handler)


class Endpoint(Route):
    """A route made by ``endpoint()``; it carries its scope so tests can check every route has one."""

    def __init__(
        self, path: str, run: Callable[[Request], Any], *, method: str, scope: str, handler: Handler
    ):
        super().__init__(path, run, methods=[method])
        self.scope = scope
        self.handler = handler
