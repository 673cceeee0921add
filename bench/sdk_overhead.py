"""SDK overhead: what recording one call costs the application, measured against baselines of the same run.

Figures (``python -m bench.sdk_overhead [--quick]``):

* **added p50 per call, app thread**: ``@tiermix.observe`` around a function returning a realistic
  OpenAI ``ChatCompletion``, minus the same function bare; baseline: an OpenTelemetry SDK span carrying
  the same attributes, with a ``BatchSpanProcessor`` (exporter discarding), minus bare. Target ≤ 5 µs.
* **background CPU per exported call**: CPU of the export worker (encode + gzip + HTTP to a sink in
  another process) per call; baseline: the official OTLP exporter's encoder per span.
* **exported calls/s**: one application thread recording calls as fast as it can for a few seconds;
  calls the worker delivered per second to a local sink in another process, which answers at once
  (``instant ack``) or after 100 ms (``100 ms ack``, like a collector that answers once a batch is
  durable). Baseline: the same SDK with the export of earlier releases (512-call batches, one
  request in flight). What the app records beyond that is dropped and counted, never queued unbounded.
* **memory at the queue cap**: traced memory of a full queue (collector down), per call and in total.
* **import tiermix**: the ``-X importtime`` cumulative cost of ``import tiermix`` in a fresh process
  (best of several runs: the minimum is the figure that survives a busy machine); baseline: importing
  the OTLP protobuf classes, which the worker loads lazily at its first export.

p50s are medians over batches of calls timed together (timer overhead amortised), so they are per-call
costs of the steady state, the same way for every variant.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "sdk") not in sys.path:  # a source checkout that was not pip-installed
    sys.path.insert(0, str(ROOT / "sdk"))

import tiermix  # noqa: E402

BATCH = 50

SINK = """
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
ACK_DELAY_S = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if ACK_DELAY_S: time.sleep(ACK_DELAY_S)
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def chat_completion() -> Any:
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "object": "chat.completion",
            "created": 1_741_569_952,
            "model": "gpt-4o-mini-2024-07-18",
            "system_fingerprint": "fp_06737a9306",
            "service_tier": "default",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {
                        "role": "assistant",
                        "refusal": None,
                        "annotations": [],
                        "content": "Your order #4512 shipped yesterday and should arrive on Thursday.",
                    },
                }
            ],
            "usage": {
                "prompt_tokens": 1_214,
                "completion_tokens": 96,
                "total_tokens": 1_310,
                "prompt_tokens_details": {"cached_tokens": 1_024, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
        }
    )


def per_call_p50_us(fn: Callable[[], Any], batches: int) -> float:
    """Median over ``batches`` of the mean per-call time of ``BATCH`` back-to-back calls, in µs."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(batches):
        start = clock()
        for _ in range(BATCH):
            fn()
        samples.append((clock() - start) / BATCH / 1000)
    return statistics.median(samples)


def otel_variant(response: Any, exporter: Any = None) -> tuple[Callable[[], Any], Any]:
    """The same call under an OpenTelemetry SDK span; ``exporter`` defaults to one that discards."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import SpanKind

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter or Discard(), max_queue_size=1 << 20))
    tracer = provider.get_tracer("bench")

    def with_span() -> Any:
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as span:
            result = response
            usage = result.usage
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.response.model": result.model,
                    "gen_ai.usage.input_tokens": usage.prompt_tokens,
                    "gen_ai.usage.output_tokens": usage.completion_tokens,
                    "gen_ai.usage.cache_read.input_tokens": usage.prompt_tokens_details.cached_tokens,
                    "gen_ai.usage.reasoning.output_tokens": usage.completion_tokens_details.reasoning_tokens,
                    "gen_ai.response.finish_reasons": [result.choices[0].finish_reason],
                    "tiermix.tenant": "acme",
                    "tiermix.route": "support.answer",
                }
            )
            return result

    return with_span, provider


def start_sink(ack_delay_s: float = 0.0) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", SINK, str(ack_delay_s)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def official_encoder_us_per_span(spans: int) -> float | None:
    """The official OTLP exporter's encoder on SDK spans with the same attributes (baseline)."""
    try:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    except ImportError:
        return None
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for _ in range(spans):
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.usage.input_tokens": 1214,
                    "gen_ai.usage.output_tokens": 96,
                    "gen_ai.usage.cache_read.input_tokens": 1024,
                    "gen_ai.response.finish_reasons": ["stop"],
                    "tiermix.tenant": "acme",
                    "tiermix.route": "support.answer",
                }
            )
    finished = memory.get_finished_spans()
    start = time.perf_counter()
    encode_spans(finished).SerializeToString()
    return (time.perf_counter() - start) / len(finished) * 1e6


def exported_per_s(endpoint: str, record: Callable[[], Any], seconds: float, **settings: Any) -> float:
    """Calls delivered per second while one thread records as fast as it can (excess is dropped)."""
    tiermix.init(endpoint=endpoint, service="bench", **settings)
    try:
        record()
        tiermix.flush(10)  # the first export loads protobuf: not part of the steady state
        before = tiermix.stats().exported_calls
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(100):
                record()
        elapsed = time.perf_counter() - start
        return (tiermix.stats().exported_calls - before) / elapsed
    finally:
        tiermix.shutdown(5)


def export_throughput_rows(record: Callable[[], Any], seconds: float) -> list[dict[str, Any]]:
    rows = []
    for ack_delay_s, label in ((0.0, "instant ack"), (0.1, "100 ms ack")):
        sink, endpoint = start_sink(ack_delay_s)
        try:
            earlier = exported_per_s(endpoint, record, seconds, batch_size=512, max_concurrent_exports=1)
            now = exported_per_s(endpoint, record, seconds)
        finally:
            sink.terminate()
            sink.wait(5)
        rows.append(
            {
                "name": f"exported calls/s, app flat out ({label})",
                "value": round(now),
                "unit": "calls/s",
                "baseline": round(earlier),
                "baseline_name": "512-call batches, 1 request in flight",
                "ratio": round(now / earlier, 2) if earlier else None,
                "target": ">= 20000",
            }
        )
    return rows


def end_to_end_rows(
    endpoint: str, observed: Callable[[], Any], response: Any, calls: int
) -> list[dict[str, Any]]:
    """Process CPU (every thread) to record ``calls`` calls and deliver them to the same sink: tiermix
    against the OpenTelemetry SDK with ``BatchSpanProcessor`` and the official OTLP/HTTP exporter.

    CPU, not wall time: the application pays for the export worker's encode, gzip and HTTP under its own
    GIL whenever it runs, and CPU is what that costs it whatever the sink's latency. Both start warm
    (one flushed call first: lazy imports and connections are not the steady state).
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    tiermix.init(endpoint=endpoint, max_queue=calls + 1, service="bench")
    observed()
    assert tiermix.flush(30)
    before = tiermix.stats().exported_calls
    started = time.process_time()
    for _ in range(calls):
        observed()
    assert tiermix.flush(120)
    ours = (time.process_time() - started) / calls * 1e6
    delivered = tiermix.stats().exported_calls - before
    dropped = sum(tiermix.stats().dropped.values())
    tiermix.shutdown(5)

    otel_record, provider = otel_variant(response, OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
    otel_record()
    provider.force_flush(30_000)
    started = time.process_time()
    for _ in range(calls):
        otel_record()
    assert provider.force_flush(120_000)
    theirs = (time.process_time() - started) / calls * 1e6
    provider.shutdown()
    row = {
        "baseline": round(theirs, 2),
        "baseline_name": "OTel SDK + BatchSpanProcessor + OTLP/HTTP exporter",
    }
    return [
        {"name": "end to end in the app's process: record + deliver, CPU per call", "value": round(ours, 2),
         "unit": "us/call", **row, "ratio": round(ours / theirs, 3), "target": "<= 0.15x"},
        {"name": "calls not delivered in the end-to-end run", "value": calls - delivered + dropped,
         "unit": "calls", "baseline": calls, "baseline_name": "calls recorded", "ratio": None, "target": "0"},
    ]  # fmt: skip


def import_ms(module: str, runs: int) -> float:
    """Best cumulative ``-X importtime`` of ``import module`` over fresh interpreters, in ms."""
    samples = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "sdk"), os.environ.get("PYTHONPATH", "")])}
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        line = [row for row in out.splitlines() if row.rstrip().endswith(f"| {module}")][-1]
        samples.append(int(line.split("|")[1]) / 1000)
    return min(samples)


def run(quick: bool) -> list[dict[str, Any]]:
    batches = 400 if quick else 4_000
    response = chat_completion()
    rows: list[dict[str, Any]] = []
    sink, endpoint = start_sink()
    try:
        calls = batches * BATCH * 2 + 10_000
        tiermix.init(endpoint=endpoint, max_queue=calls, service="bench")

        def bare() -> Any:
            return response

        @tiermix.observe(route="support.answer")
        def observed() -> Any:
            return response

        with_span, provider = otel_variant(response)
        for fn in (bare, observed, with_span):  # warm up caches and the extractor's type cache
            per_call_p50_us(fn, 20)
        gc.collect()
        bare_us = min(per_call_p50_us(bare, batches), per_call_p50_us(bare, batches))
        sdk_us = per_call_p50_us(observed, batches)
        otel_us = per_call_p50_us(with_span, batches)
        provider.shutdown()
        dropped = sum(tiermix.stats().dropped.values())
        added, otel_added = sdk_us - bare_us, otel_us - bare_us
        rows += [
            {
                "name": "sdk added per call p50 (app thread)",
                "value": round(added, 3),
                "unit": "us",
                "baseline": round(otel_added, 3),
                "baseline_name": "OTel SDK span + BatchSpanProcessor",
                "ratio": round(added / otel_added, 3) if otel_added > 0 else None,
                "target": "<= 2 us",
            },
            {
                "name": "bare call p50",
                "value": round(bare_us, 3),
                "unit": "us",
                "baseline": None,
                "baseline_name": "",
                "ratio": None,
                "target": "",
            },
            {
                "name": "calls dropped during latency run",
                "value": dropped,
                "unit": "calls",
                "baseline": None,
                "baseline_name": "",
                "ratio": None,
                "target": "0",
            },
        ]
        tiermix.flush(30)

        # Background CPU: the sink runs in another process, the main thread only produces records,
        # so process CPU minus main-thread CPU is the export worker's.
        n = 5_000 if quick else 50_000
        tiermix.init(endpoint=endpoint, max_queue=n + 1, service="bench")
        proc0, thread0 = time.process_time(), time.thread_time()
        for _ in range(n):
            observed()
        assert tiermix.flush(60)
        background = (time.process_time() - proc0) - (time.thread_time() - thread0)
        exported = tiermix.stats().exported_calls
        baseline = official_encoder_us_per_span(2_000 if quick else 10_000)
        bg_us = background / max(exported, 1) * 1e6
        rows += end_to_end_rows(endpoint, observed, response, n)
        rows.append(
            {
                "name": "background CPU per exported call",
                "value": round(bg_us, 2),
                "unit": "us/call",
                "baseline": round(baseline, 2) if baseline else None,
                "baseline_name": "official OTLP encoder only, per span",
                "ratio": round(bg_us / baseline, 3) if baseline else None,
                "target": "report",
            }
        )
    finally:
        tiermix.shutdown(5)
        sink.terminate()
        sink.wait(5)
    rows += export_throughput_rows(observed, 2.0 if quick else 6.0)

    # Memory at the cap: collector down (nothing drains), queue filled to the cap and beyond.
    cap = 2_000 if quick else 20_000
    tiermix.init(endpoint="http://127.0.0.1:9", max_queue=cap, retry_window_s=60.0, service="bench")
    try:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(cap + cap // 2):
            observed()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        held = tiermix.stats().queued
        used = max(after - before, 0)
        rows += [
            {
                "name": f"memory at queue cap ({cap} calls)",
                "value": round(used / 2**20, 2),
                "unit": "MiB",
                "baseline": None,
                "baseline_name": "",
                "ratio": None,
                "target": "bounded",
            },
            {
                "name": "memory per queued call",
                "value": round(used / max(held, 1)),
                "unit": "bytes/call",
                "baseline": None,
                "baseline_name": "",
                "ratio": None,
                "target": "report",
            },
        ]
    finally:
        tiermix.shutdown(0.5)
    runs = 3 if quick else 7
    sdk_ms = import_ms("tiermix", runs)
    proto_ms = import_ms("opentelemetry.proto.collector.trace.v1.trace_service_pb2", runs)
    rows.append(
        {
            "name": "import tiermix",
            "value": round(sdk_ms, 1),
            "unit": "ms",
            "baseline": round(proto_ms, 1),
            "baseline_name": "import of the OTLP protobuf classes",
            "ratio": round(sdk_ms / proto_ms, 3),
            "target": "no protobuf",
        }
    )
    return rows


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    for row in run(quick):
        baseline = "" if row["baseline"] is None else f"  baseline {row['baseline']} ({row['baseline_name']})"
        ratio = "" if row["ratio"] is None else f"  ratio {row['ratio']}"
        target = f"  target {row['target']}"
        print(f"{row['name']:<42} {row['value']:>10} {row['unit']:<9}{baseline}{ratio}{target}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
