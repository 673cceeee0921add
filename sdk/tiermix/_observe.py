"""``@tiermix.observe``: record each call of a function that calls a model.

Works bare or with options, on sync and async functions, generators, async generators and methods.
The function's own arguments are never touched. Model and usage come from the return value (or the
chunks a generator yields, or the provider stream it returns); exceptions are recorded and re-raised
unchanged. With the SDK disabled the wrapper is a plain pass-through.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from . import _runtime
from ._args import share, text
from ._args import tags as safe_tags
from ._capture import StreamCall, finish
from ._context import call_scope, cancel_attempt
from ._observe_gen import wrap_async_generator, wrap_generator
from ._record import CallOptions, otel_parent
from ._streams import stream_kind, watch, watch_async_raw
from .instrument import _patch

F = TypeVar("F", bound=Callable[..., Any])
_time_ns = time.time_ns


def _options(
    route: str | None,
    operation: str | None,
    provider: str | None,
    model: str | None,
    tier: str | None,
    tags: Mapping[str, object] | None,
    capture: float | bool | None = None,
) -> CallOptions:
    return CallOptions(
        text(route, "route"),
        text(operation, "operation"),
        text(provider, "provider"),
        text(model, "model"),
        text(tier, "tier"),
        safe_tags(tags),
        share(capture, "capture"),
    )


def _wrap(fn: Callable[..., Any], opts: CallOptions) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(fn):
        return wrap_async_generator(fn, opts)
    if inspect.isgeneratorfunction(fn):
        return wrap_generator(fn, opts)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            rt = _runtime.RT or _runtime.ensure()
            if rt.disabled:
                return await fn(*args, **kwargs)
            scope, parent, start = call_scope(), otel_parent(), _time_ns()
            marker = token = None
            if _patch._PATCHED:
                marker = [opts, 0]
                token = _patch.OBSERVING.set(marker)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                if marker and marker[1]:
                    cancel_attempt(scope)
                else:
                    finish(rt, opts, scope, parent, start, None, exc, opts.model)
                raise
            finally:
                if token is not None:
                    _patch.OBSERVING.reset(token)
            if marker and marker[1]:
                cancel_attempt(scope)
                return result  # the instrumented client inside already recorded the call(s)
            kind = stream_kind(result)
            if kind is not None:
                call = StreamCall(rt, opts, scope, parent, start, opts.model)
                if kind == "async_raw":
                    return await watch_async_raw(result, call)
                return watch(result, kind, call)
            finish(rt, opts, scope, parent, start, result, None, opts.model)
            return result

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = _runtime.RT or _runtime.ensure()
        if rt.disabled:
            return fn(*args, **kwargs)
        scope, parent, start = call_scope(), otel_parent(), _time_ns()
        marker = token = None
        if _patch._PATCHED:
            marker = [opts, 0]
            token = _patch.OBSERVING.set(marker)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            if marker and marker[1]:
                cancel_attempt(scope)
            else:
                finish(rt, opts, scope, parent, start, None, exc, opts.model)
            raise
        finally:
            if token is not None:
                _patch.OBSERVING.reset(token)
        if marker and marker[1]:
            cancel_attempt(scope)
            return result  # the instrumented client inside already recorded the call(s)
        kind = stream_kind(result)
        if kind is not None:
            return watch(result, kind, StreamCall(rt, opts, scope, parent, start, opts.model))
        finish(rt, opts, scope, parent, start, result, None, opts.model)
        return result

    return wrapper


@overload
def observe(fn: F, /) -> F: ...


@overload
def observe(
    fn: None = None,
    /,
    *,
    route: str | None = None,
    operation: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    tier: str | None = None,
    tags: Mapping[str, object] | None = None,
    capture: float | bool | None = None,
) -> Callable[[F], F]: ...


def observe(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    route: str | None = None,
    operation: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    tier: str | None = None,
    tags: Mapping[str, object] | None = None,
    capture: float | bool | None = None,
) -> Any:
    """Record every call of the decorated function as one LLM call.

    ``@observe`` or ``@observe(route="support.answer", tier="small", tags={"team": "cx"})``.
    ``model`` is the model asked for (``gen_ai.request.model``); the served model, usage and finish
    reason are read from the return value. ``capture=0.02`` sends the prompt and answer of 2% of the
    instrumented client calls inside (``True``: all, ``False``: none), for shadow replay
    (docs/replay.md); the collector keeps them only where a capture policy asks.
    """
    opts = _options(route, operation, provider, model, tier, tags, capture)
    if fn is not None:
        return _wrap(fn, opts)
    return lambda f: _wrap(f, opts)
