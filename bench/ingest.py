"""Collector ingest benchmark: OTLP protobuf from a separate load process → collector → ClickHouse.

One run measures, on the same machine and moment:
- **sustained calls/s stored**: a load *process* sends pre-built, gzip'ed OTLP protobuf batches of unique
  SDK-shaped spans to a ``tiermix collector`` subprocess over HTTP, keeping several requests in flight;
  a 200 means stored (or spooled), so acknowledged spans per second is the stored rate. Zero loss is
  checked after the run: rows the collector wrote == spans acknowledged.
- **decode-only floor**: decompress + parse + map + validate + enrich on one core, no HTTP, no storage.
- **insert-only floor**: columnar inserts of already-mapped rows into ``llm_calls`` with its rollups.
- collector RSS under load (peak) against idle, and compressed bytes per stored call against the
  OTLP wire size.
Floors run in subprocesses: chDB binds one data dir per process, and ``python -m bench`` runs others.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from bench import positive_int
from bench.thread_cpu import children, cpu_by_group

REPO = Path(__file__).resolve().parents[1]
TARGET_CALLS_PER_S = 50_000
STEADY_AFTER_S = 32.0  # ingest/recent.py CLOCK_SKEW_S + 2: calls newer than the collector's memory
# Concurrent senders of 1,000-call requests, each waiting for its answer (an OTLP exporter does). 16 on
# 2 cores leave ~10% of the machine idle between batches (2026-12-07: 30.6k-32.3k calls/s, 64 senders
# 32.9k-33.2k); the CI reference was taken with 16, and a figure is guarded by its name, which says how
# many senders sent.
SENDERS = 16


# -- payloads ------------------------------------------------------------------------------------
def make_bodies(batches: int, batch_size: int, parented: bool = False) -> list[bytes]:
    """gzip'ed ``ExportTraceServiceRequest`` bodies of unique SDK-shaped spans (docs/wire.md)."""
    stream = body_stream(batch_size, parented)
    return [next(stream) for _ in range(batches)]


def body_stream(batch_size: int, parented: bool = False) -> Iterator[bytes]:
    """Bodies like ``make_bodies``, each one's spans starting a second before it is made.

    ``parented``: every span has a parent span (not in the request), as the SDK's spans have in an
    application whose own requests are traced: such a call may still be joined by another span of it,
    so the collector parks its batch for the merge window (ingest/parking.py) and stores one more key.

    A soak paced over many minutes needs calls as recent as an SDK's: calls older than the collector's
    memory of recent keys covers are checked against ClickHouse (``ingest/recent.py``), a path real
    traffic takes only after downtime, so stale timestamps would soak the wrong path.
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def kv(key: str, value: Any) -> KeyValue:
        if isinstance(value, bool):
            return KeyValue(key=key, value=AnyValue(bool_value=value))
        if isinstance(value, int):
            return KeyValue(key=key, value=AnyValue(int_value=value))
        return KeyValue(key=key, value=AnyValue(string_value=value))

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [
            kv("service.name", "shop"),
            kv("deployment.environment.name", "prod"),
            kv("telemetry.sdk.name", "tiermix"),
        ]
    )
    spans = resource_spans.scope_spans.add().spans
    models = ("gpt-4o-mini", "gpt-4o", "claude-haiku-4-5", "claude-opus-4-1")
    for n in range(batch_size):
        span = spans.add(name="chat", kind=3)
        model = models[n % len(models)]
        span.attributes.extend(
            [
                kv("gen_ai.operation.name", "chat"),
                kv("gen_ai.provider.name", "anthropic" if model.startswith("claude") else "openai"),
                kv("gen_ai.request.model", model),
                kv("gen_ai.response.model", model),
                kv("gen_ai.usage.input_tokens", 500 + n % 700),
                kv("gen_ai.usage.output_tokens", 50 + n % 300),
                kv("tiermix.tenant", f"tenant-{n % 5}"),
                kv("tiermix.route", f"route.{n % 12}"),
                kv("tiermix.attempt", 0),
            ]
        )
        span.attributes.add(key="gen_ai.response.finish_reasons").value.array_value.values.add(
            string_value="stop"
        )
    while True:
        ids = os.urandom(24 * batch_size)  # random like real ids: they are the incompressible part of a row
        now_ns = time.time_ns()
        for n, span in enumerate(spans):
            span.span_id = ids[24 * n : 24 * n + 8]
            span.trace_id = ids[24 * n + 8 : 24 * n + 24]
            if parented:  # the application's own span, outside the request: the trace id's random tail
                span.parent_span_id = ids[24 * n + 16 : 24 * n + 24]
            span.start_time_unix_nano = now_ns - 10**9 + n * 1000
            span.end_time_unix_nano = span.start_time_unix_nano + 800_000_000
        yield gzip.compress(request.SerializeToString(), compresslevel=6)


# -- load process --------------------------------------------------------------------------------
def load_main(
    url: str, seconds: float, concurrency: int, batch_size: int, batches: int, rate: float, parented: bool
) -> None:
    """Entry of the load process: build bodies, then send for ``seconds`` (at most ``rate`` spans/s
    when given, else flat out); print JSON counts."""
    # Flat out, bodies are built up front so that the sender is not the bottleneck; paced, each is built
    # when it is due, so its calls are as recent as an SDK's.
    bodies = [] if rate else make_bodies(batches, batch_size, parented)
    fresh = body_stream(batch_size, parented)
    print("ready", flush=True)
    sys.stdin.readline()  # the parent says go once it sampled idle RSS
    host, port = url.removeprefix("http://").split(":")
    lock = threading.Lock()
    counts: dict[str, Any] = {"acked_spans": 0, "statuses": {}, "sent_bodies": 0, "sent_bytes": 0}
    cursor = iter(range(batches))
    deadline = time.monotonic() + seconds

    def worker() -> None:
        connection = HTTPConnection(host, int(port), timeout=60)
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
        while time.monotonic() < deadline:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            if rate:  # paced: batch ``index`` is due ``index * batch_size / rate`` seconds in
                time.sleep(max(0.0, started + index * batch_size / rate - time.monotonic()))
                with lock:
                    body = next(fresh)
            else:
                body = bodies[index]
            connection.request("POST", "/v1/traces", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            with lock:
                counts["sent_bodies"] += 1
                counts["sent_bytes"] += len(body)
                counts["statuses"][response.status] = counts["statuses"].get(response.status, 0) + 1
                if response.status == 200:
                    counts["acked_spans"] += batch_size
            if response.status != 200:
                time.sleep(float(response.getheader("Retry-After") or 1))

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts["elapsed_s"] = time.monotonic() - started
    counts["wire_bytes_per_span"] = counts["sent_bytes"] / max(counts["sent_bodies"] * batch_size, 1)
    print(json.dumps(counts), flush=True)


# -- floors (subprocess) -------------------------------------------------------------------------
def floors_main(quick: bool) -> None:
    """Entry of the floors process: decode-only and insert-only rates; print JSON."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from tiermix_server.ingest.decode import PROTOBUF, decompress, parse
    from tiermix_server.ingest.process import process
    from tiermix_server.ingest.validate import Limits
    from tiermix_server.ingest.write import Batch, ClickHouseWriter
    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing.enricher import build_enricher
    from tiermix_server.settings import Settings
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    batches, batch_size = (40, 1000) if quick else (150, 1000)
    bodies = make_bodies(batches, batch_size)
    spans = batches * batch_size
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="tiermix-bench-floors-")))
    enricher = build_enricher(settings, open_meta(settings))
    limits = Limits(now_ns=time.time_ns(), max_age_days=settings.raw_ttl_days)

    started = time.perf_counter()
    for body in bodies:
        ExportTraceServiceRequest.FromString(gzip.decompress(body))
    parse_only = spans / (time.perf_counter() - started)

    rows = []
    started = time.perf_counter()
    for body in bodies:  # as the collector decodes: the compiled reader when the install built it
        raw = decompress(body, "gzip", 1 << 30)
        rows.extend(process(parse(raw, PROTOBUF), enricher=enricher, limits=limits, wire=raw).calls)
    decode = spans / (time.perf_counter() - started)
    stages = stage_costs(bodies[:20], enricher, limits)

    client = connect(settings)
    migrate(client, settings)
    client.command("CREATE TABLE llm_calls_plain AS llm_calls")
    writer = ClickHouseWriter(client)
    chunk = 25_000
    writer._insert("llm_calls_plain", _call_columns(), rows[:chunk], "warm-up")  # first insert pays set-up
    client.command("TRUNCATE TABLE llm_calls_plain")
    timings = {}
    for table in ("llm_calls_plain", "llm_calls"):
        started = time.perf_counter()
        for n in range(0, len(rows), chunk):
            if table == "llm_calls":
                writer.write(Batch(f"floor-{n}", rows[n : n + chunk], [], []))
            else:
                writer._insert(table, _call_columns(), rows[n : n + chunk], f"plain-{n}")
        timings[table] = len(rows) / (time.perf_counter() - started)
    print(
        json.dumps(
            {
                "parse_only": parse_only,
                "decode": decode,
                "insert": timings["llm_calls"],
                "insert_plain": timings["llm_calls_plain"],
                "stages": stages,
            }
        )
    )


def stage_costs(bodies: list[bytes], enricher: Any, limits: Any) -> dict[str, float]:
    """Microseconds per call of each step of ``process`` (ingest/process.py), run one step at a time
    over the same bodies, the cycle collector paused as in the collector; and the hand-off of a decode
    worker's answer (``ingest/handoff.py``: packed in the worker, unpacked in the collector, its rows
    rebuilt only by the insert)."""
    import contextlib

    from tiermix_server.gc_pause import cycle_collection_paused
    from tiermix_server.ingest.decode import COMPILED_READER, PROTOBUF, decompress, flatten, parse, read_spans
    from tiermix_server.ingest.enrich import enrich_fields
    from tiermix_server.ingest.handoff import pack, unpack
    from tiermix_server.ingest.identity import Member, call_keys, collapse
    from tiermix_server.ingest.mapping import ATTRIBUTE_KINDS, ATTRIBUTE_PREFIXES, map_span
    from tiermix_server.ingest.process import process
    from tiermix_server.ingest.validate import validate

    spent: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(name: str) -> Any:
        started = time.perf_counter()
        yield
        spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

    calls = 0
    with cycle_collection_paused():
        for body in bodies:
            with stage("gunzip"):
                raw = decompress(body, "gzip", 1 << 30)
            with stage("protobuf parse"):
                otlp = parse(raw, PROTOBUF)
            with stage("read attributes (flatten)"):
                spans = list(
                    flatten(otlp, keep_content=False, kinds=ATTRIBUTE_KINDS, prefixes=ATTRIBUTE_PREFIXES)
                )
            # What the collector runs when the install built it (flatten is its definition).
            if COMPILED_READER:
                with stage("read attributes, compiled reader (decode.read_spans)"):
                    read_spans(
                        otlp, raw, keep_content=False, kinds=ATTRIBUTE_KINDS, prefixes=ATTRIBUTE_PREFIXES
                    )
            with stage("map to call fields"):
                mapped = [map_span(one) for one in spans]
            with stage("same-call collapse"):
                collapse([(m.fields, one.scope) for m, one in zip(mapped, spans, strict=True)])
            with stage("validate"):
                for m in mapped:
                    validate(m.fields, m.clipped, limits)
            with stage("price and tier"):
                for m in mapped:
                    enrich_fields(enricher, m.fields, m.clipped)
            for name, trusted in (("identity keys", False), ("identity keys, trusted sender", True)):
                with stage(name):  # an ingest key bound to the tenant; no keys or an all-tenants key
                    for m in mapped:
                        fields = m.fields
                        members = [Member(fields["span_id"], fields["parent_span_id"])]
                        call_keys(
                            fields["tenant"],
                            fields["trace_id"],
                            members,
                            fields["provider"],
                            "",
                            trusted=trusted,
                        )
            with stage("whole process() (parse through keys)"):
                processed = process(parse(raw, PROTOBUF), enricher=enricher, limits=limits)
            if COMPILED_READER:
                with stage("whole process() with the compiled reader (parse through keys)"):
                    process(parse(raw, PROTOBUF), enricher=enricher, limits=limits, wire=raw)
            with stage("worker hand-off: pack (worker)"):
                packed = pack(processed)
            with stage("worker hand-off: unpack (collector)"):
                answer = unpack(packed)  # the rows stay packed (ingest/processed.py) ...
            with stage("worker hand-off: rows rebuilt for the insert (collector)"):
                answer.calls  # noqa: B018 - ... until the insert reads them (``Batch.call_rows``)
            calls += len(spans)
    return {name: seconds / calls * 1e6 for name, seconds in spent.items()}


def _call_columns() -> tuple[str, ...]:
    from tiermix_server.ingest.write import LLM_CALLS_COLUMNS

    return LLM_CALLS_COLUMNS


# -- orchestration -------------------------------------------------------------------------------
def new_place(prefix: str) -> tuple[Path, int, str]:
    """A fresh data dir, a free port and the collector's URL on it."""
    port = _free_port()
    return Path(tempfile.mkdtemp(prefix=prefix)), port, f"http://127.0.0.1:{port}"


def start_collector(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """``tiermix collector`` on embedded chDB in ``data_dir``; its output goes to ``<data_dir>.log``."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TIERMIX_DATA_DIR": str(data_dir),
        "TIERMIX_PORT": str(port),
        "TIERMIX_ALERTS_ENABLED": "false",
    }
    env.pop("TIERMIX_CLICKHOUSE_URL", None)
    with (data_dir.parent / f"{data_dir.name}.log").open("ab") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "tiermix_server.cli", "collector"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    """RSS of ``pid`` and its child processes (the collector's decode workers count too)."""
    return _own_rss_mib(pid) + sum(_rss_mib(child) for child in children(pid))


def _own_rss_mib(pid: int) -> float:
    from tiermix_server.process_memory import resident_bytes  # what the collector's /metrics reports

    return resident_bytes(pid) / 2**20


def _metric(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def _wait(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout_s}s")
        time.sleep(0.1)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


_STORAGE = """
import json, sys
from tiermix_server.settings import Settings
from tiermix_server.store.clickhouse import connect
client = connect(Settings(data_dir=sys.argv[1]), create_database=False)
client.command("OPTIMIZE TABLE llm_calls FINAL")
client.command("OPTIMIZE TABLE call_keys FINAL")
def measure(table):
    return client.query(
        "SELECT sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = currentDatabase()"
        " AND table = {t:String} AND active", parameters={"t": table}).result_rows[0]
rows, size = measure("llm_calls")
key_rows, key_bytes = measure("call_keys")
print(json.dumps({"rows": rows, "bytes": size, "key_rows": key_rows, "key_bytes": key_bytes}))
"""


def _python(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=REPO, **kwargs
    )


def run(quick: bool, soak_s: float = 0.0, senders: int = SENDERS) -> list[dict[str, Any]]:
    seconds, concurrency, batch_size = (4.0, senders, 1000) if quick else (15.0, senders, 1000)
    data_dir, port, url = new_place("tiermix-bench-ingest-")
    collector = start_collector(data_dir, port)
    try:
        _wait(lambda: _healthy(url), 120, "collector healthy")
        up_since = time.monotonic()
        # The floors run while the collector idles: steady state is when calls start after the collector
        # did (plus the clock-skew margin), so its memory, not a ClickHouse lookup, tells a resent call
        # (ingest/recent.py). A collector just restarted checks older calls against storage instead.
        floors_run = _python("-m", "bench.ingest", "--floors", *(["--quick"] if quick else []), timeout=900)
        if floors_run.returncode != 0:
            raise RuntimeError(f"floors failed: {floors_run.stderr[-2000:]}")
        floors = json.loads(floors_run.stdout.strip().splitlines()[-1])
        time.sleep(max(0.0, STEADY_AFTER_S - (time.monotonic() - up_since)))
        idle_rss = _rss_mib(collector.pid)
        # The fleet's small requests first, while nothing else is merging: its CPU is its own. In CI too:
        # what each request costs beyond its calls (a key check, a lock) shows only here.
        fleet = _fleet_run(url, collector.pid, seconds)
        looked_before = _metric(url, "tiermix_storage_duplicate_checks_total")
        result, peak_rss = _load(url, collector.pid, seconds, concurrency, batch_size)
        looked_up = _metric(url, "tiermix_storage_duplicate_checks_total") - looked_before
        _wait_drained(url, "the sustained run")
        parented = None if quick else _parented_run(url, collector.pid, seconds, concurrency, batch_size)
        soak = _soak(url, collector.pid, soak_s, batch_size) if soak_s > 0 else None
        written = _written(url)
        workers = _metric(url, "tiermix_decode_workers_ready")
    finally:
        collector.terminate()
        collector.wait(timeout=120)
    storage_run = _python("-c", _STORAGE, str(data_dir), timeout=300)
    storage = json.loads(storage_run.stdout.strip().splitlines()[-1]) if storage_run.returncode == 0 else None

    acked = result["acked_spans"] + (soak["acked_spans"] if soak else 0)
    acked += parented["acked_spans"] if parented else 0
    acked += fleet["acked_spans"]
    sustained = result["acked_spans"] / result["elapsed_s"]
    rows = [
        _row(
            f"ingest sustained calls/s stored ({os.cpu_count()} cores, {int(workers)} decode workers, "
            f"{concurrency} senders; HTTP+gzip+decode+map+enrich+spool+insert)",
            sustained,
            "calls/s",
            floors["decode"],
            "decode-only floor, 1 core",
            f">= {TARGET_CALLS_PER_S}",
        ),
        _row(
            "ingest calls lost (acknowledged - written)",
            acked - written,
            "calls",
            acked,
            "acknowledged calls",
            "0",
        ),
        _row(
            "ingest requests checked for duplicates in ClickHouse at full rate (memory of recent keys did "
            "not cover their calls)",
            looked_up,
            "requests",
            sum(result["statuses"].values()),
            "requests",
            "0",
        ),
        _row(
            "ingest decode-only floor (decompress+parse+map+validate+enrich)",
            floors["decode"],
            "calls/s",
            floors["parse_only"],
            "protobuf parse only",
            "",
        ),
        _row(
            "ingest insert-only floor (llm_calls + its materialized views, 25k-row batches)",
            floors["insert"],
            "rows/s",
            floors["insert_plain"],
            "same rows, no views",
            "",
        ),
        _row(
            "collector RSS under load (peak, with decode workers)",
            peak_rss,
            "MiB",
            idle_rss,
            "idle RSS",
            "report",
        ),
    ]
    if not quick:  # where the machine's time went (docs/performance.md); not guarded
        rows += _cpu_rows(result)
    rows += _fleet_rows(fleet, result)
    if parented:
        rows.append(
            _row(
                "ingest sustained calls/s stored, every span with a parent (each batch parked for the merge "
                f"window, one key more a call; {concurrency} senders)",
                parented["acked_spans"] / parented["elapsed_s"],
                "calls/s",
                sustained,
                "the same without parents, same run",
                "report",
            )
        )
    parse_us = floors["stages"]["protobuf parse"]
    for stage, us in floors["stages"].items():
        # The stages run in one process right after the parse they are set against (CI guards the share).
        rows.append(_row(f"ingest stage: {stage}", us, "us/call", parse_us, "protobuf parse", "report"))
    if soak:
        rows.append(
            _row(
                f"collector RSS, {soak_s / 60:.0f}-minute soak at 5,000 calls/s (last minute vs middle)",
                soak["last_minute_mib"],
                "MiB",
                soak["middle_minute_mib"],
                "middle minute",
                "no growth",
            )
            | {
                "rss_by_minute_mib": soak["rss_by_minute_mib"],
                "collector_process_rss_by_minute_mib": soak["collector_process_rss_by_minute_mib"],
            }
        )
    if storage and storage["rows"]:
        # The run with parents stores a parent id (random: incompressible) and a second key per call.
        mixed = f", {parented['acked_spans'] / acked:.0%} of the calls with a parent" if parented else ""
        rows.append(
            _row(
                f"bytes per stored call (llm_calls, compressed, after merge{mixed})",
                storage["bytes"] / storage["rows"],
                "bytes/call",
                result["wire_bytes_per_span"],
                "OTLP gzip bytes per span",
                "",
            )
        )
        rows.append(
            _row(
                f"bytes per stored call, all it leaves (llm_calls + call_keys{mixed})",
                (storage["bytes"] + (storage.get("key_bytes") or 0)) / storage["rows"],
                "bytes/call",
                result["wire_bytes_per_span"],
                "OTLP gzip bytes per span",
                "<= 60",
            )
        )
    rows.append(
        _row(
            "ingest non-200 answers (429/503, retried by clients)",
            sum(n for s, n in result["statuses"].items() if s != "200"),
            "answers",
            sum(result["statuses"].values()),
            "requests",
            "",
        )
    )
    return rows


def _parented_run(
    url: str, collector_pid: int, seconds: float, concurrency: int, batch_size: int
) -> dict[str, Any]:
    """The sustained run again with spans that have a parent, as an SDK's have in a traced application.

    Such a call may still be joined by another span of it (its parent, met later), so its batch takes
    the parking path: spooled, answered, inserted a merge window later, with a child key stored beside
    its own. The headline figure has no parents; this says what that shape leaves out.
    """
    parked_before = _metric(url, "tiermix_parked_batches_total")
    result, _ = _load(url, collector_pid, seconds, concurrency, batch_size, parented=True)
    if _metric(url, "tiermix_parked_batches_total") == parked_before:
        raise RuntimeError("the run with parents parked no batch: it did not measure the parking path")
    _wait_drained(url, "the run with parents")
    return result


# A fleet of applications, each exporting every second (the SDK's ``export_interval_s``): many senders of
# small requests, so what the collector spends per request weighs on every call.
FLEET_SENDERS, FLEET_BATCH, FLEET_RATE = 50, 10, 2_000


def _fleet_run(url: str, collector_pid: int, seconds: float) -> dict[str, Any]:
    """``FLEET_SENDERS`` senders of ``FLEET_BATCH``-call requests, paced: their counts with the
    collector's CPU meanwhile."""
    result, _ = _load(url, collector_pid, seconds, FLEET_SENDERS, FLEET_BATCH, rate_per_s=FLEET_RATE)
    _wait_drained(url, "the fleet run")
    return result


def _wait_drained(url: str, after: str) -> None:
    """Every acknowledged batch inserted (the spool empty), so the next run starts on a quiet collector."""
    _wait(lambda: _metric(url, "tiermix_spool_bytes") == 0, 120, f"spool drained after {after}")


def _fleet_rows(fleet: dict[str, Any], headline: dict[str, Any]) -> list[dict[str, Any]]:
    """The fleet run's rate, and its CPU per stored call against the sustained run's (1,000-call
    requests): how much each request costs beyond its calls."""

    shape = f"{FLEET_SENDERS} senders of {FLEET_BATCH}-call requests"
    return [
        _row(
            f"ingest calls/s stored, {shape} (each waits for its answer)",
            fleet["acked_spans"] / fleet["elapsed_s"],
            "calls/s",
            FLEET_RATE,
            "the pace asked",
            "report",
        ),
        _row(
            f"ingest CPU per call, {shape} (a fleet of applications exporting every second)",
            _cpu_per_call(fleet),
            "us/call",
            _cpu_per_call(headline),
            "the sustained run's, 1,000-call requests",
            "report",
        ),
    ]


def _cpu_per_call(result: dict[str, Any]) -> float:
    """µs of the collector's CPU (every group) per call a run stored."""
    return sum(result["cpu_s"].values()) / max(result["acked_spans"], 1) * 1e6


def _cpu_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The sustained run's CPU per stored call by group of threads, and the cores they kept busy."""
    spent, calls = result["cpu_s"], max(result["acked_spans"], 1)
    total_us = _cpu_per_call(result)
    everything = "every thread of the collector and its decode workers"
    rows = []
    for group, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        name = f"ingest CPU per call under load: {group}"
        rows.append(_row(name, seconds / calls * 1e6, "us/call", total_us, everything, "report"))
    cores = sum(spent.values()) / result["elapsed_s"]
    rows.append(_row("ingest cores busy under load", cores, "cores", os.cpu_count() or 1, "cores", "report"))
    return rows


def spawn_load(
    url: str, seconds: float, concurrency: int, batch_size: int, rate_per_s: float = 0, parented: bool = False
) -> subprocess.Popen[str]:
    """The load process, its bodies built (flat out, their calls start now); it sends on "go"."""
    batches = int(seconds * (rate_per_s or 90_000) / batch_size) + concurrency
    load = subprocess.Popen(
        [sys.executable, "-m", "bench.ingest", "--load", url, str(seconds), str(concurrency),
         str(batch_size), str(batches), str(rate_per_s), *(["--parented"] if parented else [])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert load.stdout is not None
    if load.stdout.readline().strip() != "ready":
        raise RuntimeError("load process failed to start")
    return load


def _load(
    url: str,
    collector_pid: int,
    seconds: float,
    concurrency: int,
    batch_size: int,
    rate_per_s: float = 0,
    parented: bool = False,
) -> tuple[dict[str, Any], float]:
    """Run the load process against ``url``; return its counts (with ``cpu_s``: the collector's CPU
    seconds meanwhile, by ``thread_cpu`` group) and the collector's peak RSS under load."""
    load = spawn_load(url, seconds, concurrency, batch_size, rate_per_s, parented)
    assert load.stdin is not None and load.stdout is not None
    peak_rss = _rss_mib(collector_pid)
    cpu_before = cpu_by_group(collector_pid)
    load.stdin.write("go\n")
    load.stdin.flush()
    while load.poll() is None:
        peak_rss = max(peak_rss, _rss_mib(collector_pid))
        time.sleep(0.2)
    spent = cpu_by_group(collector_pid)
    spent.subtract(cpu_before)
    result = json.loads(load.stdout.read().strip().splitlines()[-1])
    return result | {"cpu_s": dict(spent)}, peak_rss


def _soak(url: str, collector_pid: int, seconds: float, batch_size: int) -> dict[str, Any]:
    """Steady load (5,000 calls/s, a quarter of the sustained rate) for ``seconds``; RSS every 5 s.

    Growth is judged on the mean RSS of the last minute against the middle one: the first minutes fill
    what is bounded by design — the memory of recent calls (``ingest/recent.py``: 10 minutes, at most
    8,000,000 keys), allocator arenas, ClickHouse's caches — while a leak keeps climbing. Run it for 15
    minutes or more, so that the middle minute is past the 10-minute window.
    """
    # (seconds in, whole RSS, the collector process alone): the split tells the decode workers' share
    samples: list[tuple[float, float, float]] = []
    started = time.monotonic()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            own = _own_rss_mib(collector_pid)
            whole = own + sum(_rss_mib(child) for child in children(collector_pid))
            samples.append((time.monotonic() - started, whole, own))
            stop.wait(5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result, _ = _load(url, collector_pid, seconds, 4, batch_size, rate_per_s=5_000)
    finally:
        stop.set()
        sampler.join()

    def minute_mean(minute: int, column: int) -> float:
        inside = [s[column] for s in samples if minute * 60 <= s[0] < (minute + 1) * 60] or [
            samples[-1][column]
        ]
        return sum(inside) / len(inside)

    minutes = max(int(seconds // 60), 1)
    result["rss_by_minute_mib"] = [round(minute_mean(m, 1), 1) for m in range(minutes)]
    result["collector_process_rss_by_minute_mib"] = [round(minute_mean(m, 2), 1) for m in range(minutes)]
    result["middle_minute_mib"] = result["rss_by_minute_mib"][minutes // 2]
    result["last_minute_mib"] = result["rss_by_minute_mib"][-1]
    return result


def _written(url: str) -> int:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith('tiermix_rows_written_total{table="llm_calls"}'):
                return int(float(line.split()[1]))
    return 0


def _row(
    name: str, value: float, unit: str, baseline: float, baseline_name: str, target: str
) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 2),
        "unit": unit,
        "baseline": round(baseline, 2),
        "baseline_name": baseline_name,
        "ratio": round(value / baseline, 3) if baseline else None,
        "target": target,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--load"]:
        url, seconds, concurrency, batch_size, batches, rate = argv[1:7]
        parented = "--parented" in argv[7:]
        load_main(url, float(seconds), int(concurrency), int(batch_size), int(batches), float(rate), parented)
        return 0
    if argv[:1] == ["--floors"]:
        floors_main(quick="--quick" in argv)
        return 0
    soak_s = float(argv[argv.index("--soak") + 1]) if "--soak" in argv else 0.0
    senders = SENDERS
    if "--senders" in argv:
        given = argv[argv.index("--senders") + 1 :][:1] or ["(nothing)"]
        try:
            senders = positive_int(given[0])
        except (argparse.ArgumentTypeError, ValueError) as exc:
            print(f"python -m bench.ingest: --senders {given[0]}: {exc}", file=sys.stderr)
            return 2
    for row in run(quick="--quick" in argv, soak_s=soak_s, senders=senders):
        print(
            f"{row['name']}: {row['value']} {row['unit']} (baseline {row['baseline']} "
            f"{row['baseline_name']}, ratio {row['ratio']}, target {row['target'] or '-'})"
            + (f" by minute: {row['rss_by_minute_mib']}" if "rss_by_minute_mib" in row else "")
            + (
                f" (the collector process alone: {row['collector_process_rss_by_minute_mib']})"
                if "collector_process_rss_by_minute_mib" in row
                else ""
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
