"""``@observe`` on generators and async generators: one call per generator, ended when it ends.

The wrapper is a full proxy: values passed with ``send()`` / ``asend()``, exceptions thrown in with
``throw()`` / ``athrow()`` and ``close()`` / ``aclose()`` reach the wrapped generator, and its return
value comes back as the wrapper's. A generator runs in its consumer's context, so the "inside an
observed function" marker is set only around each step of the wrapped generator, never across a
``yield``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from . import _runtime
from ._capture import StreamCall
from ._context import call_scope
from ._record import CallOptions, otel_parent
from .instrument import _patch


def _end(call: StreamCall | None, marker: list[Any], exc: BaseException | None) -> None:
    if call is None:
        return  # SDK disabled: a plain proxy
    if marker[1]:
        call.cancel()  # instrumented client calls inside were recorded already
    else:
        call.end(exc)


def _step(action: Callable[[Any], Any], arg: Any, marker: list[Any]) -> Any:
    token = _patch.OBSERVING.set(marker)
    try:
        return action(arg)
    finally:
        _patch.OBSERVING.reset(token)


async def _astep(action: Callable[[Any], Any], arg: Any, marker: list[Any]) -> Any:
    token = _patch.OBSERVING.set(marker)
    try:
        return await action(arg)
    finally:
        _patch.OBSERVING.reset(token)


def wrap_generator(fn: Callable[..., Any], opts: CallOptions) -> Callable[..., Any]:
    @functools.wraps(fn)
    def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = _runtime.RT or _runtime.ensure()
        if rt.disabled:
            return (yield from fn(*args, **kwargs))
        call = StreamCall(rt, opts, call_scope(), otel_parent(), time.time_ns(), opts.model)
        marker: list[Any] = [opts, 0]
        gen: Generator[Any, Any, Any] = fn(*args, **kwargs)
        action: Callable[[Any], Any] = gen.send
        arg: Any = None
        while True:
            try:
                item = _step(action, arg, marker)
            except StopIteration as stop:
                _end(call, marker, None)
                return stop.value
            except BaseException as exc:
                _end(call, marker, exc)
                raise
            call.chunk(item)
            try:
                arg = yield item
                action = gen.send
            except GeneratorExit:
                _end(call, marker, None)
                _step(lambda _: gen.close(), None, marker)
                raise
            except BaseException as exc:  # thrown in by the consumer: the generator decides
                action, arg = gen.throw, exc

    return gen_wrapper


def wrap_async_generator(fn: Callable[..., Any], opts: CallOptions) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = _runtime.RT or _runtime.ensure()
        call = None
        if not rt.disabled:  # no ``yield from`` for async generators: disabled, the loop just proxies
            call = StreamCall(rt, opts, call_scope(), otel_parent(), time.time_ns(), opts.model)
        marker: list[Any] = [opts, 0]
        agen: AsyncGenerator[Any, Any] = fn(*args, **kwargs)
        action: Callable[[Any], Any] = agen.asend
        arg: Any = None
        while True:
            try:
                item = await _astep(action, arg, marker)
            except StopAsyncIteration:
                _end(call, marker, None)
                return
            except BaseException as exc:
                _end(call, marker, exc)
                raise
            if call is not None:
                call.chunk(item)
            try:
                arg = yield item
                action = agen.asend
            except GeneratorExit:
                _end(call, marker, None)
                await _astep(lambda _: agen.aclose(), None, marker)
                raise
            except BaseException as exc:
                action, arg = agen.athrow, exc

    return agen_wrapper
