"""Start-up recovery: a batch left in the spool is replayed exactly once, even if it was half inserted."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.ingest.conftest import start_collector
from tests.unit.ingest.builders import body, request, span
from tiermix_server.ingest.pipeline import key_rows
from tiermix_server.ingest.process import process
from tiermix_server.ingest.spool import Spool
from tiermix_server.ingest.validate import Limits
from tiermix_server.ingest.write import Batch, ClickHouseWriter


def spooled_batch(spans: list[Any], settings: Any) -> Batch:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing.enricher import build_enricher

    enricher = build_enricher(settings, open_meta(settings), background=False)
    out = process(request(spans), enricher=enricher, limits=Limits(time.time_ns(), 90))
    return Batch("crashed-batch", out.calls, out.drops, [], key_rows(out.calls, out.keys))


def test_batch_inserted_before_a_crash_but_still_spooled_is_counted_once(make_settings: Any) -> None:
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = make_settings(batch_max_delay_s=0.05)
    client = connect(settings)
    migrate(client, settings)
    spans = [span() for _ in range(40)]
    batch = spooled_batch(spans, settings)
    ClickHouseWriter(client).write(batch)  # the insert went through ...
    Spool(settings.spool_dir, settings.spool_max_bytes).append(batch)  # ... the record was never removed

    with start_collector(settings) as collector:
        collector.wait_for(lambda: not list(settings.spool_dir.glob("*.batch")))
        assert collector.post(body(spans[:5])).status_code == 200  # a client re-sending: skipped
        assert collector.scalar("SELECT count() FROM llm_calls") == 40
        assert collector.scalar("SELECT sum(calls) FROM llm_calls_1m") == 40
        assert collector.scalar("SELECT sum(calls) FROM llm_calls_1h") == 40


def test_spooled_batch_never_inserted_is_stored_at_start(make_settings: Any) -> None:
    settings = make_settings(batch_max_delay_s=0.05)
    batch = spooled_batch([span() for _ in range(7)], settings)
    Spool(settings.spool_dir, settings.spool_max_bytes).append(batch)
    with start_collector(settings) as collector:
        collector.wait_for(lambda: collector.scalar("SELECT count() FROM llm_calls") == 7)
        assert collector.scalar("SELECT sum(calls) FROM llm_calls_1h") == 7
