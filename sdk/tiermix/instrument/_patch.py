"""Patching and unpatching methods of provider client classes, idempotently.

The original function is kept in a registry keyed by (class, name) and restored verbatim by
``unpatch``; a second ``patch`` of the same method is a no-op, so ``instrument()`` can be called any
number of times. Wrappers record through :mod:`tiermix._capture` and never raise on their own.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .. import _runtime
from .._capture import StreamCall, finish, wants_content
from .._context import call_scope
from .._log import warn_once
from .._record import CallOptions, otel_parent
from .._streams import stream_kind, watch, watch_async_raw
from .stream_usage import ask_for_usage


@dataclass(frozen=True, slots=True)
class Target:
    module: str
    cls: str
    method: str
    is_async: bool
    provider: str
    operation: str
    stream_usage: bool = False  # an OpenAI stream whose usage must be asked for (stream_usage.py)


# Set by @observe while instrumentation is active, so a patched client call inside an observed
# function is recorded once, with the function's route/tier/tags, instead of twice.
OBSERVING: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "tiermix_observing", default=None
)
_PATCHED: dict[tuple[type, str], Any] = {}


def any_patched() -> bool:
    return bool(_PATCHED)


def _prompt(kwargs: dict[str, Any]) -> Any:
    for key in ("messages", "input", "prompt"):
        if key in kwargs:
            return kwargs[key]
    return None


def _context_options(base: CallOptions) -> CallOptions:
    marker = OBSERVING.get()
    if marker is None:
        return base
    marker[1] += 1
    outer: CallOptions = marker[0]
    return replace(
        outer, provider=outer.provider or base.provider, operation=outer.operation or base.operation
    )


def _ask(rt: Any, resource: Any, kwargs: dict[str, Any]) -> bool:
    try:
        return ask_for_usage(rt.settings.stream_usage, resource, kwargs)
    except Exception:  # never let our request tweak break the application's call
        return False


def _make_wrapper(original: Callable[..., Any], target: Target) -> Callable[..., Any]:
    base = CallOptions(provider=target.provider, operation=target.operation)

    if target.is_async:

        @functools.wraps(original)
        async def async_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            rt = _runtime.RT or _runtime.ensure()
            if rt.disabled:
                return await original(self, *args, **kwargs)
            opts, scope, parent = _context_options(base), call_scope(), otel_parent()
            start = time.time_ns()
            capture = wants_content(rt, opts)
            model, prompt = kwargs.get("model"), _prompt(kwargs) if capture else None
            asked = target.stream_usage and _ask(rt, self, kwargs)
            try:
                result = await original(self, *args, **kwargs)
            except BaseException as exc:
                finish(rt, opts, scope, parent, start, None, exc, model, prompt, capture)
                raise
            kind = stream_kind(result)
            if kind is not None:
                call = StreamCall(rt, opts, scope, parent, start, model, prompt, capture)
                call.hide_usage_chunk = asked
                if kind == "async_raw":
                    return await watch_async_raw(result, call)
                return watch(result, kind, call)
            finish(rt, opts, scope, parent, start, result, None, model, prompt, capture)
            return result

        return async_wrapper

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        rt = _runtime.RT or _runtime.ensure()
        if rt.disabled:
            return original(self, *args, **kwargs)
        opts, scope, parent = _context_options(base), call_scope(), otel_parent()
        start = time.time_ns()
        capture = wants_content(rt, opts)
        model, prompt = kwargs.get("model"), _prompt(kwargs) if capture else None
        asked = target.stream_usage and _ask(rt, self, kwargs)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            finish(rt, opts, scope, parent, start, None, exc, model, prompt, capture)
            raise
        kind = stream_kind(result)
        if kind is not None:
            call = StreamCall(rt, opts, scope, parent, start, model, prompt, capture)
            call.hide_usage_chunk = asked
            return watch(result, kind, call)
        finish(rt, opts, scope, parent, start, result, None, model, prompt, capture)
        return result

    return wrapper


def patch(targets: list[Target]) -> int:
    """Patch what is importable among ``targets``; returns how many methods are now patched."""
    count = 0
    for target in targets:
        try:
            cls = getattr(importlib.import_module(target.module), target.cls)
        except (ImportError, AttributeError):
            warn_once(
                "patch:" + target.module + target.cls,
                "tiermix: cannot instrument %s.%s (not in this version)",
                target.module,
                target.cls,
            )
            continue
        key = (cls, target.method)
        if key in _PATCHED:
            count += 1
            continue
        original = cls.__dict__.get(target.method)
        if original is None:
            continue
        _PATCHED[key] = original
        setattr(cls, target.method, _make_wrapper(original, target))
        count += 1
    return count


def unpatch(targets: list[Target]) -> None:
    for target in targets:
        for (cls, method), original in list(_PATCHED.items()):
            if method == target.method and cls.__name__ == target.cls and cls.__module__ == target.module:
                setattr(cls, method, original)
                del _PATCHED[(cls, method)]
