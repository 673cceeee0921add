"""tiermix: record every LLM call with its model, tier, usage and cascade -- without hurting the app.

Quick start::

    import tiermix
    from openai import OpenAI

    tiermix.init()                      # optional: the first recorded call initialises from env
    client = OpenAI()

    @tiermix.observe(route="support.answer")
    def answer(question: str):
        return client.chat.completions.create(model="gpt-4o-mini",
                                              messages=[{"role": "user", "content": question}])

    with tiermix.context(tenant="acme", user="u-42"):
        answer("Where is my order?")
    tiermix.flush()

Other entry points: ``tiermix.call(...)`` (manual recording), ``tiermix.cascade(route=...)``
(``with`` or ``async with``: the attempts of one logical request; ``c.escalate(reason)`` /
``c.failover()`` mark the current attempt, even one still running; ``c.decide(...)``),
``tiermix.route_decision(router, reason, score)``, ``tiermix.instrument()`` /
``tiermix.uninstrument()`` (patch the openai / anthropic clients), ``tiermix.bind(fn)`` (carry the
context into a thread), ``tiermix.flush(timeout_s)``, ``tiermix.stats()`` and ``tiermix.shutdown()``.
``c.set_times(start_ns, end_ns)`` and ``c.set_error(error_type)`` on a ``tiermix.call`` record calls
with their own timestamps and errors (importers, replays, simulators).

Settings (``init()`` argument → ``TIERMIX_*`` variable → ``OTEL_*`` variable → default):

========================  ==================================================  =======================
``init()`` argument       environment                                         default
========================  ==================================================  =======================
``endpoint``              ``TIERMIX_ENDPOINT`` (base URL, ``/v1/traces`` is    ``http://127.0.0.1:4318``
                          appended), ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
                          (full URL), ``OTEL_EXPORTER_OTLP_ENDPOINT``
``api_key``               ``TIERMIX_API_KEY`` (sent as ``Authorization:        none
                          Bearer``); extra ``headers`` also from
                          ``OTEL_EXPORTER_OTLP_HEADERS``
``service``               ``TIERMIX_SERVICE``, ``OTEL_SERVICE_NAME``,          ``unknown_service``
                          ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``
``environment``           ``TIERMIX_ENVIRONMENT``,                             none
                          ``deployment.environment[.name]`` in
                          ``OTEL_RESOURCE_ATTRIBUTES``
``tenant`` / ``route``    ``TIERMIX_TENANT`` / ``TIERMIX_ROUTE`` (defaults     none
                          when no context / decorator sets them)
``capture_content``       ``TIERMIX_CAPTURE_CONTENT`` (1/true/yes/on)          off
``max_queue``             ``TIERMIX_MAX_QUEUE`` (calls held in memory)         20000
``spool_dir``             ``TIERMIX_SPOOL_DIR`` (undelivered batches on disk)  none
``spool_max_bytes``       ``TIERMIX_SPOOL_MAX_BYTES``                          256 MiB
``disabled``              ``TIERMIX_DISABLED``, ``OTEL_SDK_DISABLED``          off
``stream_usage``          ``TIERMIX_STREAM_USAGE`` (auto/always/never: ask     auto
                          OpenAI for a stream's usage the app did not ask
                          for; auto = api.openai.com only)
(resource attributes)     ``OTEL_RESOURCE_ATTRIBUTES`` (added to the resource)
========================  ==================================================  =======================

Further ``init()`` arguments: ``redact`` (``str -> str | None`` applied to captured content),
``max_content_chars`` (4000), ``tracer_provider`` (also emit the spans to your OpenTelemetry
provider), ``batch_size`` (2048), ``max_concurrent_exports`` (2 requests in flight),
``export_interval_s`` (1.0), ``export_timeout_s`` (10.0 per HTTP
request), ``retry_window_s`` (30.0 without a spool), ``max_backoff_s`` (10.0), ``headers``.
See ``docs/sdk.md`` for the full guide and ``docs/wire.md`` for what is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import _runtime
from ._call import Call, call
from ._cascade import ESCALATION_REASONS, Cascade, CascadeBlock
from ._config import Redactor
from ._context import bind, context, route_decision
from ._log import internal_error
from ._observe import observe
from ._stats import ExportStats
from ._version import VERSION
from .instrument import instrument, uninstrument

__version__ = VERSION

__all__ = [
    "ESCALATION_REASONS",
    "Call",
    "Cascade",
    "ExportStats",
    "__version__",
    "bind",
    "call",
    "cascade",
    "context",
    "flush",
    "init",
    "instrument",
    "observe",
    "route_decision",
    "shutdown",
    "stats",
    "uninstrument",
]


def init(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    service: str | None = None,
    environment: str | None = None,
    tenant: str | None = None,
    route: str | None = None,
    capture_content: bool | None = None,
    redact: Redactor | None = None,
    max_content_chars: int | None = None,
    max_queue: int | None = None,
    spool_dir: str | None = None,
    spool_max_bytes: int | None = None,
    disabled: bool | None = None,
    tracer_provider: Any = None,
    headers: Mapping[str, str] | None = None,
    batch_size: int | None = None,
    max_concurrent_exports: int | None = None,
    export_interval_s: float | None = None,
    export_timeout_s: float | None = None,
    retry_window_s: float | None = None,
    max_backoff_s: float | None = None,
    stream_usage: str | None = None,
) -> None:
    """Configure the SDK (see the module docstring for every setting and its variable).

    Calling it again replaces the configuration (the previous worker is flushed and stopped).
    """
    args = {k: v for k, v in locals().items() if v is not None}
    try:
        _runtime.init(**args)
    except Exception:
        internal_error("init")
        _runtime.init(env={}, disabled=True)


def cascade(route: str | None = None) -> CascadeBlock:
    """``with tiermix.cascade(route=...) as c:`` (or ``async with``): link the attempts of one request."""
    return CascadeBlock(route, _submit_attempts)


def _submit_attempts(records: list[Any]) -> None:
    try:
        (_runtime.RT or _runtime.ensure()).submit_many(records)
    except Exception:
        internal_error("cascade")


def flush(timeout_s: float = 10.0) -> bool:
    """Export everything recorded so far; ``False`` if it did not finish within ``timeout_s``."""
    try:
        return _runtime.flush(timeout_s)
    except Exception:
        internal_error("flush")
        return False


def stats() -> ExportStats:
    """Calls queued, exported and dropped (by reason) by this process since ``init()``."""
    try:
        return _runtime.stats()
    except Exception:
        internal_error("stats")
        return ExportStats()


def shutdown(timeout_s: float = _runtime.SHUTDOWN_TIMEOUT_S) -> bool:
    """Flush and stop the export worker; later calls re-initialise from the environment."""
    try:
        return _runtime.shutdown(timeout_s)
    except Exception:
        internal_error("shutdown")
        return False
