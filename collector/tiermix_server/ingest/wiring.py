"""Assemble the ingest pipeline from settings and the runtime's shared objects (runs at start-up).

Kept apart from ``pipeline.py`` so the pipeline itself takes only its seams (writer, spool, stats,
resend filter) and tests can build one around a writer that fails on purpose.
"""

from __future__ import annotations

import logging
from typing import Any

from tiermix_server.ingest.pipeline import Pipeline, PipelineConfig
from tiermix_server.ingest.recent import RecentSpans
from tiermix_server.ingest.spool import Spool
from tiermix_server.ingest.stats import IngestStats
from tiermix_server.ingest.write import ClickHouseWriter, recent_span_ids

log = logging.getLogger("tiermix.ingest")

RESEND_WINDOW_S = 600
RESEND_MAX_IDS = 250_000


def build_pipeline(runtime: Any, writer: Any = None) -> Pipeline:
    settings = runtime.settings
    stats = IngestStats()
    if writer is None:
        writer = ClickHouseWriter(runtime.clickhouse, stats.observe_insert)
    spool = Spool(settings.spool_dir, settings.spool_max_bytes)
    recent = RecentSpans(max_ids=RESEND_MAX_IDS, window_s=RESEND_WINDOW_S)
    _seed_recent(recent, runtime.clickhouse, spool)
    if runtime.enricher is None:
        from tiermix_server.pricing.enricher import build_enricher

        runtime.enricher = build_enricher(settings, runtime.meta)
    config = PipelineConfig(
        batch_max_rows=settings.batch_max_rows,
        batch_max_delay_s=settings.batch_max_delay_s,
        queue_max_requests=settings.queue_max_requests,
        queue_max_bytes=settings.queue_max_bytes,
    )
    return Pipeline(writer=writer, spool=spool, stats=stats, recent=recent, config=config)


def _seed_recent(recent: RecentSpans, client: Any, spool: Spool) -> None:
    """After a restart, remember what was stored lately and what waits in the spool."""
    if client is not None:
        try:
            recent.seed(recent_span_ids(client, RESEND_WINDOW_S, RESEND_MAX_IDS))
        except Exception as exc:  # storage down at start: the spool still protects what was acked
            log.warning("cannot read recent span ids from ClickHouse: %s", str(exc).splitlines()[0][:200])
    from tiermix_server.ingest.write import SPAN_ID_INDEX

    for path in spool.records():
        batch = spool.read(path)
        if batch is not None:
            recent.seed(row[SPAN_ID_INDEX] for row in batch.calls)
