"""The long-lived objects of one server process, owned by the app's lifespan.

Everything a request handler or background worker needs hangs off one ``Runtime``: handlers reach it
as ``request.app.state.runtime``. Components that are not started (no alerts in a read-only replica, say)
stay ``None``; each owner module documents the field it fills.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from tiermix_server.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    clickhouse: Any = None  # clickhouse-connect client (store/clickhouse.py)
    meta: Any = None  # metadata DB handle (meta/db.py)
    pipeline: Any = None  # ingest pipeline: queue → batcher → writer → spool (ingest/pipeline.py)
    enricher: Any = None  # tier map + price book (pricing/)
    alerts: Any = None  # alert evaluator (alerts/evaluate.py)
    stats: Any = None  # self-observability counters (ingest/stats.py)
    capture: Any = None  # content capture policies and budget (ingest/capture.py CaptureGate)
    decode_pool: Any = None  # decode worker processes, when configured (ingest/decode_pool.py)
    replays: Any = None  # shadow replay runs (replay/service.py)
    extras: dict[str, Any] = field(default_factory=dict)
    # An ingest credential that lives only in this process's memory, for senders this process starts
    # itself (the embedded demo): they keep delivering when the first API key turns auth on.
    process_ingest_key: str = field(default_factory=lambda: "tmx_proc_" + secrets.token_urlsafe(32))

    def metadata(self) -> Any:
        """The metadata DB, opened on first use (a CLI-built app or a test may never need it)."""
        if self.meta is None:
            from tiermix_server.meta.db import open_meta

            self.meta = open_meta(self.settings)
        return self.meta
