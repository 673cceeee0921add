"""ClickHouse writes fail for a while under load: nothing acknowledged is lost, ``/readyz`` says so.

The failure is a real ClickHouse error — the ``llm_calls`` table is detached — not a mocked client.
Meanwhile the collector keeps answering 200 from its spool and reports not-ready; once the table is
back the spool drains and every acknowledged span is stored exactly once, rollups included.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.ingest.conftest import start_collector
from tests.integration.ingest.harness import Load, wait_for

pytestmark = pytest.mark.slow


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_storage_outage_under_load_loses_nothing_and_readyz_is_honest(make_settings: Any) -> None:
    settings = make_settings(batch_max_delay_s=0.05)
    with start_collector(settings) as collector:
        load = Load(collector.url, threads=3, batch_size=200)
        try:
            load.start()
            wait_for(lambda: load.acked_count() >= 2_000, what="acknowledged spans before the outage")
            collector.clickhouse.command("DETACH TABLE llm_calls")
            try:
                wait_for(lambda: collector.http.get("/readyz").status_code == 503, what="not ready")
                ready = collector.http.get("/readyz").json()
                assert "storage unavailable" in ready["reason"]
                during = load.acked_count()
                wait_for(
                    lambda: load.acked_count() >= during + 3_000, what="spans acknowledged from the spool"
                )
                assert metric(collector.url, "tiermix_spool_bytes") > 0
                assert metric(collector.url, "tiermix_storage_up") == 0
            finally:
                collector.clickhouse.command("ATTACH TABLE llm_calls")
            wait_for(lambda: collector.http.get("/readyz").status_code == 200, what="ready again")
            after = load.acked_count()
            wait_for(lambda: load.acked_count() >= after + 1_000, what="ingest after recovery")
        finally:
            load.stop()
        assert set(load.statuses) == {200}
        wait_for(lambda: metric(collector.url, "tiermix_spool_bytes") == 0, what="spool drained")
        acked = len(load.acked)
        assert collector.scalar("SELECT uniqExact(span_id) FROM llm_calls") == acked
        assert collector.scalar("SELECT count() FROM llm_calls") == acked
        assert collector.scalar("SELECT sum(calls) FROM llm_calls_1m") == acked
        assert collector.scalar("SELECT sum(calls) FROM llm_calls_1h") == acked
        assert collector.scalar("SELECT sum(calls) FROM llm_calls_by_band_1d") == acked
