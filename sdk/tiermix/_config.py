"""Settings of the SDK, resolved once at ``init()``.

Precedence for every setting: the ``init()`` argument, then the ``TIERMIX_*`` variable, then the
standard ``OTEL_*`` variable where one exists, then the default. Only :func:`resolve` reads the
environment; everything below receives a :class:`Settings` value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
DEFAULT_MAX_QUEUE = 20_000
DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_CONTENT_CHARS = 4_000
DEFAULT_BATCH_SIZE = 2048
DEFAULT_CONCURRENT_EXPORTS = 2
MAX_CONCURRENT_EXPORTS = 8

Redactor = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the runtime needs; a frozen value so it can be shared with the worker thread."""

    traces_url: str
    headers: tuple[tuple[str, str], ...]
    service: str
    environment: str | None
    tenant: str | None
    route: str | None
    capture_content: bool
    max_content_chars: int
    redact: Redactor | None
    max_queue: int
    batch_size: int
    max_concurrent_exports: int
    export_interval_s: float
    export_timeout_s: float
    retry_window_s: float
    max_backoff_s: float
    spool_dir: str | None
    spool_max_bytes: int
    disabled: bool
    resource_attributes: tuple[tuple[str, str], ...]
    tracer_provider: Any = None
    # Ask OpenAI for a stream's usage when the application did not (stream_usage.py): auto|always|never
    stream_usage: str = "auto"


_TRUE = frozenset({"1", "true", "yes", "on"})


def _flag(value: str | None) -> bool | None:
    if value is None or value.strip() == "":
        return None
    return value.strip().lower() in _TRUE


def _pairs(value: str | None) -> list[tuple[str, str]]:
    """Parse the OTel ``key=value,key2=value2`` form (values URL-encoded per the OTel spec)."""
    out: list[tuple[str, str]] = []
    for part in (value or "").split(","):
        key, sep, val = part.partition("=")
        if sep and key.strip():
            out.append((key.strip(), unquote(val.strip())))
    return out


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def _num(kind: Callable[[Any], Any], default: Any, *values: Any) -> Any:
    """First value that converts with ``kind``; a malformed one is logged and skipped, never raised."""
    for value in values:
        if value is None or value == "":
            continue
        try:
            return kind(value)
        except (TypeError, ValueError):
            from ._log import warn_once

            warn_once(f"setting:{value!r}", "tiermix: ignoring malformed setting value %r", value)
    return default


def _traces_url(endpoint: str | None, env: Mapping[str, str]) -> str:
    if endpoint:
        return endpoint.rstrip("/") + "/v1/traces"
    if env.get("TIERMIX_ENDPOINT"):
        return env["TIERMIX_ENDPOINT"].rstrip("/") + "/v1/traces"
    # The signal-specific OTel variable is a full URL, used as is (OTel spec).
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
    return DEFAULT_ENDPOINT + "/v1/traces"


def resolve(env: Mapping[str, str], **args: Any) -> Settings:
    """Build :class:`Settings` from ``init()`` arguments (``None`` = not given) and ``env``."""
    resource = dict(_pairs(env.get("OTEL_RESOURCE_ATTRIBUTES")))
    headers = dict(
        _pairs(env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or env.get("OTEL_EXPORTER_OTLP_HEADERS"))
    )
    headers.update(args.get("headers") or {})
    api_key = _first(args.get("api_key"), env.get("TIERMIX_API_KEY"))
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    environment = _first(
        args.get("environment"),
        env.get("TIERMIX_ENVIRONMENT"),
        resource.get("deployment.environment.name"),
        resource.get("deployment.environment"),
    )
    service = _first(
        args.get("service"),
        env.get("TIERMIX_SERVICE"),
        env.get("OTEL_SERVICE_NAME"),
        resource.get("service.name"),
        "unknown_service",
    )
    capture = _first(args.get("capture_content"), _flag(env.get("TIERMIX_CAPTURE_CONTENT")), False)
    disabled = _first(
        args.get("disabled"), _flag(env.get("TIERMIX_DISABLED")), _flag(env.get("OTEL_SDK_DISABLED")), False
    )
    max_queue = _num(int, DEFAULT_MAX_QUEUE, args.get("max_queue"), env.get("TIERMIX_MAX_QUEUE"))
    spool_bytes = _num(
        int, DEFAULT_SPOOL_MAX_BYTES, args.get("spool_max_bytes"), env.get("TIERMIX_SPOOL_MAX_BYTES")
    )
    for key in ("service.name", "deployment.environment.name", "deployment.environment"):
        resource.pop(key, None)
    return Settings(
        traces_url=_traces_url(args.get("endpoint"), env),
        headers=tuple(headers.items()),
        service=str(service),
        environment=environment,
        tenant=_first(args.get("tenant"), env.get("TIERMIX_TENANT")),
        route=_first(args.get("route"), env.get("TIERMIX_ROUTE")),
        capture_content=bool(capture),
        max_content_chars=_num(int, DEFAULT_MAX_CONTENT_CHARS, args.get("max_content_chars")),
        redact=args.get("redact"),
        max_queue=max(1, max_queue),
        batch_size=max(1, _num(int, DEFAULT_BATCH_SIZE, args.get("batch_size"))),
        max_concurrent_exports=min(
            MAX_CONCURRENT_EXPORTS,
            max(1, _num(int, DEFAULT_CONCURRENT_EXPORTS, args.get("max_concurrent_exports"))),
        ),
        export_interval_s=_num(float, 1.0, args.get("export_interval_s")),
        export_timeout_s=_num(float, 10.0, args.get("export_timeout_s")),
        retry_window_s=_num(float, 30.0, args.get("retry_window_s")),
        max_backoff_s=_num(float, 10.0, args.get("max_backoff_s")),
        spool_dir=_first(args.get("spool_dir"), env.get("TIERMIX_SPOOL_DIR")),
        spool_max_bytes=spool_bytes,
        disabled=bool(disabled),
        resource_attributes=tuple(resource.items()),
        tracer_provider=args.get("tracer_provider"),
        stream_usage=_stream_usage(_first(args.get("stream_usage"), env.get("TIERMIX_STREAM_USAGE"))),
    )


STREAM_USAGE_MODES = ("auto", "always", "never")


def _stream_usage(value: Any) -> str:
    mode = str(value or "auto").strip().lower()
    if mode in STREAM_USAGE_MODES:
        return mode
    from ._log import warn_once

    warn_once("setting:stream_usage", "tiermix: stream_usage=%r ignored: want auto, always or never", value)
    return "auto"
