"""The Prometheus text exposition the collector serves at /metrics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tiermix_server.ingest.stats import IngestStats
from tiermix_server.process_memory import resident_bytes


def test_counters_gauges_and_histogram_render_in_text_format() -> None:
    stats = IngestStats()
    stats.count("tiermix_spans_rejected_total", 2, reason='bad "quote"')
    stats.count("tiermix_spans_accepted_total", 5)
    stats.gauge("tiermix_spool_bytes", "spool size", lambda: 1234)
    stats.observe_insert(0.02)
    stats.observe_insert(7.0)
    text = stats.render()
    assert 'tiermix_spans_rejected_total{reason="bad \\"quote\\""} 2\n' in text
    assert "# TYPE tiermix_spans_accepted_total counter\ntiermix_spans_accepted_total 5\n" in text
    assert "# TYPE tiermix_spool_bytes gauge\ntiermix_spool_bytes 1234\n" in text
    assert 'tiermix_insert_duration_seconds_bucket{le="0.025"} 1\n' in text
    assert 'tiermix_insert_duration_seconds_bucket{le="5.0"} 1\n' in text
    assert 'tiermix_insert_duration_seconds_bucket{le="10.0"} 2\n' in text
    assert 'tiermix_insert_duration_seconds_bucket{le="+Inf"} 2\n' in text
    assert "tiermix_insert_duration_seconds_count 2\n" in text
    assert stats.value("tiermix_spans_accepted_total") == 5


def test_a_gauge_that_cannot_be_read_renders_as_prometheus_nan() -> None:
    stats = IngestStats()
    stats.gauge("process_resident_memory_bytes", "resident memory", lambda: float("nan"))
    assert "\nprocess_resident_memory_bytes NaN\n" in stats.render()


def test_resident_memory_is_this_process_and_zero_for_a_process_that_exited() -> None:
    status = Path("/proc/self/status").read_text()
    rss_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    assert abs(resident_bytes() - rss_kib * 1024) < 0.1 * rss_kib * 1024
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()  # reaped: its /proc entry is gone
    assert resident_bytes(exited.pid) == 0.0
