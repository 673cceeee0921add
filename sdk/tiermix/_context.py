"""Attribution context: tenant, route, user, tags, routing decision and the open cascade.

One ``ContextVar`` holds one immutable :class:`Scope`, so reading the whole context on the hot path is
a single ``get()``, nesting is a merge into a new value, and asyncio tasks inherit a snapshot of the
scope they were created in. Threads do not inherit contextvars: hand the context over with
:func:`bind` (``executor.submit(tiermix.bind(fn), ...)``) or ``contextvars.copy_context().run``.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from ._args import number, text
from ._args import tags as safe_tags

if TYPE_CHECKING:
    from contextlib import AbstractContextManager as contextlib_cm

    from ._cascade import Attempt, Cascade

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Routing:
    """Which policy chose the model, why, and with what score."""

    router: str | None
    reason: str | None
    score: float | None


@dataclass(frozen=True, slots=True)
class Scope:
    tenant: str | None = None
    route: str | None = None
    user_hash: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    routing: Routing | None = None
    cascade: Cascade | None = None
    attempt: Attempt | None = None  # only on a call's own scope, never in the ContextVar


EMPTY = Scope()
_SCOPE: contextvars.ContextVar[Scope] = contextvars.ContextVar("tiermix_scope", default=EMPTY)
current_scope = _SCOPE.get
set_scope = _SCOPE.set
reset_scope = _SCOPE.reset


def call_scope() -> Scope:
    """The scope of a call starting now; inside a cascade it joins the cascade as a new attempt."""
    scope = _SCOPE.get()
    cascade = scope.cascade
    return scope if cascade is None else cascade.begin(scope)


def cancel_attempt(scope: Scope) -> None:
    """The call that started with ``scope`` will not be recorded: it is no attempt of its cascade."""
    if scope.attempt is not None and scope.cascade is not None:
        scope.cascade.cancel(scope.attempt)


def hash_user(user: str) -> str:
    """Hex SHA-256 prefix: stable per user, so distinct users can be counted, never reversible."""
    return hashlib.sha256(user.encode("utf-8")).hexdigest()[:16]


def merge_tags(
    base: tuple[tuple[str, str], ...], extra: Mapping[str, object] | None
) -> tuple[tuple[str, str], ...]:
    pairs = safe_tags(extra)
    if not pairs:
        return base
    merged = dict(base)
    merged.update(pairs)
    return tuple(merged.items())


@contextmanager
def _push(scope: Scope) -> Iterator[Scope]:
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def context(
    *,
    tenant: str | None = None,
    route: str | None = None,
    user: str | None = None,
    tags: Mapping[str, object] | None = None,
) -> contextlib_cm[Scope]:
    """Attribute every call inside the block to ``tenant`` / ``route`` / ``user`` and add ``tags``.

    Nested blocks merge: inner values win, tags are combined. ``user`` is hashed here, so the raw id
    never reaches the export queue.
    """
    outer = _SCOPE.get()
    tenant, route, user = text(tenant, "tenant"), text(route, "route"), text(user, "user")
    scope = replace(
        outer,
        tenant=tenant if tenant is not None else outer.tenant,
        route=route if route is not None else outer.route,
        user_hash=hash_user(user) if user is not None else outer.user_hash,
        tags=merge_tags(outer.tags, tags),
    )
    return _push(scope)


def route_decision(
    router: str, reason: str | None = None, score: float | None = None
) -> contextlib_cm[Scope]:
    """Record that ``router`` chose the model for the calls inside the block (and why)."""
    outer = _SCOPE.get()
    return _push(replace(outer, routing=routing_of(router, reason, score)))


def routing_of(router: object, reason: object, score: object) -> Routing:
    """A routing decision from the application's arguments (unusable ones dropped, never raised)."""
    return Routing(text(router, "router"), text(reason, "routing reason"), number(score, "routing score"))


def bind(fn: Callable[..., T]) -> Callable[..., T]:
    """Return ``fn`` bound to a copy of the current context, for running it in another thread."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        # A copy per run: one Context cannot be entered by two threads at once.
        return ctx.copy().run(fn, *args, **kwargs)

    return run
