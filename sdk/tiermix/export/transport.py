"""OTLP/HTTP POST with the standard library: one kept-alive connection, a timeout, and a verdict.

The worker only needs to know whether a batch was delivered, should be retried (and when), or is
hopeless; :class:`SendResult` says exactly that. A ``Transport`` protocol lets tests and embedders
swap the HTTP layer.
"""

from __future__ import annotations

import contextlib
import enum
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from .._log import warn_once

if TYPE_CHECKING:
    import http.client

# http.client (and ssl behind it) and email.utils are imported on the worker thread when first needed,
# so that ``import tiermix`` stays cheap.

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    status: int | None = None
    retry_after_s: float | None = None


class Transport(Protocol):
    def send(self, body: bytes) -> SendResult: ...

    def close(self) -> None: ...


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpTransport:
    """POSTs gzip'ed protobuf bodies to the OTLP traces URL."""

    def __init__(self, url: str, headers: tuple[tuple[str, str], ...], timeout_s: float) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/v1/traces") + (f"?{parts.query}" if parts.query else "")
        self._timeout_s = timeout_s
        self._headers = {
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
            "User-Agent": "tiermix-python",
            **dict(headers),
        }
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            import http.client

            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout_s)
        return self._conn

    def _post(self, body: bytes) -> tuple[int, float | None]:
        conn = self._connection()
        conn.request("POST", self._path, body=body, headers=self._headers)
        response = conn.getresponse()
        response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, parse_retry_after(response.getheader("Retry-After"))

    def send(self, body: bytes) -> SendResult:
        import http.client

        reused = self._conn is not None
        try:
            try:
                status, retry_after = self._post(body)
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                if not reused:
                    raise
                # The server closed an idle kept-alive connection: that says nothing about its health,
                # so try once more on a fresh connection before calling it a failure.
                self.close()
                status, retry_after = self._post(body)
        except (OSError, http.client.HTTPException) as exc:
            # Connection refused / reset / timeout: the collector is down or slow; retry later.
            self.close()
            warn_once("transport:" + type(exc).__name__, "tiermix: export to %s failed: %s", self._host, exc)
            return SendResult(Outcome.RETRY)
        if 200 <= status < 300:
            return SendResult(Outcome.DELIVERED, status)
        if status in RETRYABLE_STATUS:
            return SendResult(Outcome.RETRY, status, retry_after)
        warn_once(f"status:{status}", "tiermix: collector rejected a batch with HTTP %s", status)
        return SendResult(Outcome.REJECTED, status)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Closing a broken socket can fail; it is gone either way.
            with contextlib.suppress(Exception):
                conn.close()
