"""Self-observability counters and the Prometheus text exposition (format 0.0.4), hand-formatted.

Counters and the insert-latency histogram live here; gauges (queue depth, spool bytes, storage up) are
read from their owners at scrape time through callbacks, so a scrape never shows a stale copy.
Thread-safe: the writer thread observes insert latency while request handlers count spans.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

INSERT_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_HELP = {
    "tiermix_spans_accepted_total": "LLM-call spans accepted (stored or spooled)",
    "tiermix_spans_rejected_total": "spans rejected by validation, by reason",
    "tiermix_spans_skipped_total": "spans not stored as calls (not an LLM call, duplicate), by reason",
    "tiermix_spans_clipped_total": "values clipped or ignored in stored spans, by reason",
    "tiermix_sdk_drop_reports_total": "drop-report spans received from SDKs",
    "tiermix_rows_written_total": "rows inserted into ClickHouse, by table",
    "tiermix_requests_total": "OTLP export requests answered, by HTTP status",
    "tiermix_insert_failures_total": "ClickHouse batch inserts that failed",
    "tiermix_spooled_batches_total": "batches written to the local spool",
    "tiermix_spool_corrupt_records_total": "spool records that failed their checksum (in spool/corrupt)",
    "tiermix_queue_share_refusals_total": "requests refused 429 because their sender held its queue share",
    "tiermix_rows_refused_total": "rows ClickHouse refused on their own (kept in spool/refused), by table",
    "tiermix_parked_batches_total": "batches answered once spooled, inserted after the merge window",
    "tiermix_otlp_ignored_total": "OTLP metric data points and log records accepted and not stored",
    "tiermix_captured_calls_total": "calls whose content was captured for shadow replay",
    "tiermix_capture_skipped_total": "sampled calls with content not captured, by reason",
    "tiermix_storage_duplicate_checks_total": "requests with calls too old for the memory of recent keys, "
    "looked up in call_keys",
    "tiermix_decode_jobs_total": "OTLP bodies decoded in a decode worker process",
    "tiermix_decode_worker_restarts_total": "times the decode workers were replaced after one died",
}


@dataclass
class IngestStats:
    _counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    _gauges: dict[str, tuple[str, Callable[[], float]]] = field(default_factory=dict)
    _buckets: list[int] = field(default_factory=lambda: [0] * len(INSERT_BUCKETS_S))
    _latency_sum_s: float = 0.0
    _latency_count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, name: str, value: float = 1, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + value

    def value(self, name: str, **labels: str) -> float:
        return self._counters.get((name, tuple(sorted(labels.items()))), 0)

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self._gauges[name] = (help_text, read)

    def observe_insert(self, seconds: float) -> None:
        with self._lock:
            self._latency_sum_s += seconds
            self._latency_count += 1
            for index, bound in enumerate(INSERT_BUCKETS_S):
                if seconds <= bound:
                    self._buckets[index] += 1
                    break

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            counters = sorted(self._counters.items())
            buckets = list(self._buckets)
            total_s, total = self._latency_sum_s, self._latency_count
        seen: set[str] = set()
        for (name, labels), value in counters:
            if name not in seen:
                seen.add(name)
                lines.append(f"# HELP {name} {_HELP.get(name, name)}")
                lines.append(f"# TYPE {name} counter")
            lines.append(f"{name}{_labels(labels)} {_number(value)}")
        for name, (help_text, read) in sorted(self._gauges.items()):
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name} {_number(read())}")
        name = "tiermix_insert_duration_seconds"
        lines.append(f"# HELP {name} ClickHouse batch insert latency")
        lines.append(f"# TYPE {name} histogram")
        cumulative = 0
        for bound, observed in zip(INSERT_BUCKETS_S, buckets, strict=True):
            cumulative += observed
            lines.append(f'{name}_bucket{{le="{bound}"}} {cumulative}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {total}')
        lines.append(f"{name}_sum {_number(total_s)}")
        lines.append(f"{name}_count {total}")
        return "\n".join(lines) + "\n"


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"  # Prometheus' spelling: a gauge that cannot be read here (no /proc)
    return str(int(value)) if float(value).is_integer() else repr(float(value))
