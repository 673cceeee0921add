"""Send simulated requests through the tiermix SDK to a collector, with backpressure for backfills.

The SDK never blocks the application: when its bounded queue is full it drops and counts. A backfill
produces calls far faster than any collector takes them, so the sender waits for the SDK's export
worker (``tiermix.flush``) every ``flush_every_calls`` calls instead of letting the queue overflow.
Large batches matter here: the collector answers only once a batch is durable, so a backfill's speed
is about ``batch_size * max_concurrent_exports`` / that latency. Only the public SDK API is used.
"""

from __future__ import annotations

from typing import Protocol

import tiermix
from tiermix_server.demo.bridge import record_request
from tiermix_server.demo.cascade import DemoRequest
from tiermix_server.demo.catalog import ENVIRONMENT, SERVICE

FLUSH_TIMEOUT_S = 120.0


class Sender(Protocol):
    calls_sent: int

    def send(self, request: DemoRequest) -> None: ...

    def flush(self) -> bool: ...


class SdkSender:
    """Records through the real SDK runtime (queue → export worker → OTLP/HTTP)."""

    def __init__(
        self,
        endpoint: str,
        api_key: str | None = None,
        *,
        seed: int = 0,
        batch_size: int = 4_000,  # ~2 MB a request: under the SDK's 4 MiB split threshold
        flush_every_calls: int = 40_000,
    ) -> None:
        self.calls_sent = 0
        self._since_flush = 0
        self._flush_every = flush_every_calls
        self.seed = seed  # the traffic is seeded by the runner; span and request ids are random
        tiermix.init(
            endpoint=endpoint,
            api_key=api_key or None,
            service=SERVICE,
            environment=ENVIRONMENT,
            batch_size=batch_size,
            max_queue=flush_every_calls + 1_000,  # flushed at flush_every_calls: never full
            export_interval_s=0.5,
        )

    def send(self, request: DemoRequest) -> None:
        calls = record_request(request)
        self.calls_sent += calls
        self._since_flush += calls
        if self._since_flush >= self._flush_every:
            self.flush()

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        self._since_flush = 0
        return tiermix.flush(timeout_s)

    @property
    def calls_delivered(self) -> int | None:
        """Calls the collector has acknowledged so far (``tiermix.stats()``)."""
        return tiermix.stats().exported_calls

    def close(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        tiermix.flush(timeout_s)
        tiermix.shutdown(timeout_s)
