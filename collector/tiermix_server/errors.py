"""The server's exception hierarchy: one base, a few subclasses that map cleanly to HTTP answers."""

from __future__ import annotations


class TiermixError(Exception):
    """Base of every error the server raises on purpose."""

    http_status = 500
    code = "internal"


class SettingsError(TiermixError):
    """A setting is missing or malformed; the process stops with this one-line message."""

    code = "bad_setting"


class MigrationError(TiermixError):
    """A migration cannot be applied (edited after release, failed statement, unknown state)."""

    code = "migration"


class DataDirInUse(TiermixError):
    """Another process holds the embedded chDB data directory."""

    code = "data_dir_in_use"


class BadRequest(TiermixError):
    """The client sent something we cannot accept (bad parameter, bad body)."""

    http_status = 400
    code = "bad_request"


class DecodeError(BadRequest):
    """An OTLP body could not be decoded."""

    code = "decode_error"


class RequestTimeout(TiermixError):
    """The client did not send its request body in time (slow or stalled upload)."""

    http_status = 408
    code = "request_timeout"


class PayloadTooLarge(TiermixError):
    http_status = 413
    code = "payload_too_large"


class UnsupportedMediaType(TiermixError):
    http_status = 415
    code = "unsupported_media_type"


class Unauthorized(TiermixError):
    http_status = 401
    code = "unauthorized"


class Forbidden(TiermixError):
    http_status = 403
    code = "forbidden"


class NotFound(TiermixError):
    http_status = 404
    code = "not_found"


class Conflict(TiermixError):
    http_status = 409
    code = "conflict"


class Overloaded(TiermixError):
    """The collector cannot take more right now; clients retry after ``retry_after_s``."""

    http_status = 503
    code = "overloaded"

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SpoolFull(Overloaded):
    """ClickHouse is down and the spool is at its disk budget: nothing more can be made durable (503)."""

    code = "storage_unavailable"


class QueueFull(Overloaded):
    """Too many requests waiting to become durable: the client should slow down (429)."""

    http_status = 429
    code = "queue_full"


class DedupUnavailable(Overloaded):
    """A call older than memory covers cannot be checked against storage now: retry later (503)."""

    code = "storage_unavailable"


class DecodeWorkerLost(Overloaded):
    """A decode worker died while decoding the request; new ones are starting: retry (503)."""

    code = "decode_worker_lost"


class StorageUnavailable(TiermixError):
    """ClickHouse cannot be reached or refused a write."""

    http_status = 503
    code = "storage_unavailable"
