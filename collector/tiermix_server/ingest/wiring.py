"""Assemble the ingest pipeline from settings and the runtime's shared objects (runs at start-up).

Kept apart from ``pipeline.py`` so the pipeline itself takes only its seams (writer, spool, stats,
resend filter) and tests can build one around a writer that fails on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tiermix_server.ingest import recent_snapshot
from tiermix_server.ingest.merge import enrich_again
from tiermix_server.ingest.pipeline import Pipeline, PipelineConfig
from tiermix_server.ingest.recent import RecentKeys
from tiermix_server.ingest.spool import Spool
from tiermix_server.ingest.stats import IngestStats
from tiermix_server.ingest.write import ClickHouseWriter
from tiermix_server.process_memory import resident_bytes

log = logging.getLogger("tiermix.ingest")

POLICY_REFRESH_S = 5.0  # a policy set through another process (the CLI) applies within this
RECENT_WINDOW_S = 600


def build_pipeline(runtime: Any, writer: Any = None) -> Pipeline:
    settings = runtime.settings
    stats = IngestStats()
    stats.gauge(
        "process_resident_memory_bytes",
        "resident memory of the collector process, embedded ClickHouse included, decode workers not",
        resident_bytes,
    )
    if writer is None:
        writer = ClickHouseWriter(runtime.clickhouse, stats.observe_insert)
    spool = Spool(settings.spool_dir, settings.spool_max_bytes)
    recent = RecentKeys(
        max_keys=settings.recent_keys_max, window_s=RECENT_WINDOW_S, alone=settings.replicas == "one"
    )
    if (path := recent_snapshot.snapshot_path(settings)) is not None:
        recent_snapshot.restore(
            recent, path, runtime.clickhouse, window_s=RECENT_WINDOW_S, max_keys=settings.recent_keys_max
        )
    _seed_recent(recent, spool)
    stats.gauge(
        "tiermix_recent_keys_cover_seconds",
        "how far back the memory of recent call keys answers alone; older calls are looked up in ClickHouse",
        recent.covered_seconds,
    )
    stats.gauge("tiermix_recent_keys", "call keys held in the memory of recent calls", lambda: len(recent))
    if runtime.enricher is None:
        from tiermix_server.pricing.enricher import build_enricher

        runtime.enricher = build_enricher(settings, runtime.meta)
    config = PipelineConfig(
        batch_max_rows=settings.batch_max_rows,
        batch_max_delay_s=settings.batch_max_delay_s,
        batch_min_delay_s=settings.batch_min_delay_s,
        queue_max_requests=settings.queue_max_requests,
        queue_max_bytes=settings.queue_max_bytes,
        queue_share=settings.queue_share,
        merge_window_s=settings.merge_window_s,
    )
    return Pipeline(
        writer=writer,
        spool=spool,
        stats=stats,
        recent=recent,
        config=config,
        reprice=enrich_again(runtime.enricher),
    )


def _seed_recent(recent: RecentKeys, spool: Spool) -> None:
    """After a restart, remember the calls waiting in the spool: ClickHouse does not hold them yet.

    What ClickHouse holds needs no seeding: what the last process remembered comes back from its file
    (``recent_snapshot.py``), and calls that started before memory covers are checked against
    ``call_keys`` (``RecentKeys.covers``).
    """
    for path in spool.records():
        batch = spool.read(path)
        if batch is not None:
            recent.seed(key for key, _ts in batch.keys)


async def start_pipeline(runtime: Any, stack: contextlib.AsyncExitStack) -> None:
    """Build the pipeline for ``runtime`` (fills ``runtime.pipeline`` and ``runtime.stats``)."""
    pipeline = await asyncio.to_thread(build_pipeline, runtime)
    await pipeline.start()
    if (path := recent_snapshot.snapshot_path(runtime.settings)) is not None:
        # Run after pipeline.stop (the stack unwinds in reverse): the last batch is settled by then.
        stack.push_async_callback(
            asyncio.to_thread, recent_snapshot.save, pipeline.recent, path, runtime.clickhouse
        )
    stack.push_async_callback(pipeline.stop)
    runtime.pipeline = pipeline
    runtime.stats = pipeline.stats


async def start_decode_pool(runtime: Any, stack: contextlib.AsyncExitStack) -> None:
    """Decode workers (``runtime.decode_pool``) per ``TIERMIX_DECODE_WORKERS``; none on one core. Which
    OTLP reader decodes and which key hash runs, in the workers and inline alike, go to ``/metrics`` and,
    if not the compiled ones, to the log."""
    from tiermix_server.ingest.decode import COMPILED_READER
    from tiermix_server.ingest.decode_pool import DecodePool, default_workers
    from tiermix_server.ingest.identity import COMPILED_KEYS

    compiled = COMPILED_READER and runtime.settings.compiled_decode
    runtime.stats.gauge(
        "tiermix_compiled_otlp_reader",
        "1: protobuf bodies are read by the compiled reader; 0: by the Python one (not built, or "
        "TIERMIX_COMPILED_DECODE=false)",
        lambda: int(compiled),
    )
    if not compiled:  # the same spans either way, at ~3x the CPU per call (docs/performance.md)
        log.info(
            "reading OTLP protobuf in Python: the compiled reader is %s",
            "off" if COMPILED_READER else "not built",
        )
    runtime.stats.gauge(
        "tiermix_compiled_call_keys",
        "1: call identity keys are hashed in C; 0: through hashlib (the extension was not built)",
        lambda: int(COMPILED_KEYS),
    )
    if not COMPILED_KEYS:  # the same keys either way, at ~0.5 µs more per key (docs/performance.md)
        log.info("hashing call keys through hashlib: the compiled hash is not built")
    setting = runtime.settings.decode_workers
    workers = default_workers() if setting == "auto" else int(setting)
    if workers <= 0:
        return
    pool = DecodePool(runtime.settings, workers, runtime.stats)  # workers start at the first large body
    runtime.decode_pool = pool

    async def stop() -> None:
        runtime.decode_pool = None
        await asyncio.to_thread(pool.close)

    stack.push_async_callback(stop)


async def start_capture(runtime: Any, stack: contextlib.AsyncExitStack) -> None:
    """Content capture (``runtime.capture``): policies from the metadata DB, the budget from ClickHouse."""
    from tiermix_server.ingest.capture import REFRESH_S, CaptureGate, stored_bytes
    from tiermix_server.ingest.redact import load_redactor
    from tiermix_server.meta.capture_policies import policy_map

    settings = runtime.settings
    gate = CaptureGate(
        ttl_days=settings.capture_ttl_days,
        max_bytes=settings.capture_max_bytes,
        redact=load_redactor(settings.capture_redact),
    )
    gate.set_policies(await asyncio.to_thread(policy_map, runtime.meta))
    await asyncio.to_thread(gate.refresh_usage, lambda: stored_bytes(runtime.clickhouse))
    runtime.capture = gate

    async def refresh() -> None:
        loop = asyncio.get_running_loop()
        next_usage = loop.time() + REFRESH_S
        while True:
            await asyncio.sleep(POLICY_REFRESH_S)
            try:
                gate.set_policies(await asyncio.to_thread(policy_map, runtime.meta))
                if loop.time() >= next_usage:
                    next_usage = loop.time() + REFRESH_S
                    await asyncio.to_thread(gate.refresh_usage, lambda: stored_bytes(runtime.clickhouse))
            except Exception:  # a metadata DB or ClickHouse hiccup keeps the last policies and budget
                log.warning("capture policy refresh failed; keeping the last ones", exc_info=True)

    task = asyncio.create_task(refresh(), name="tiermix-capture-refresh")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
