"""Query API latency at 10M / 50M calls over 7 days: the real API (rollups) vs the same queries on raw rows.

``python -m bench.queries [--rows 10000000,50000000]``; ``run(quick)`` for ``python -m bench`` (quick: ~1M).
The long run of the 200M target: ``--rows 200000000 --days 90 --only summary,mix --raw-repeats 1``.
Each size runs in its own child process with its own chDB data dir (chDB binds one dir per process).

In the child: calls are generated inside the engine (tests/support/calls.py ``generate_in_engine``), with
the rollup views detached during the bulk load and the rollups then filled from the raw table with the
views' own aggregates (metrics/sources.py ``COUNTERS``) — the same rows the views would have written, in
seconds instead of the minutes the views cost at insert time (docs/architecture.md, measured facts). Then
the real app serves
``/api/v1/{summary,mix,cost,escalations,drift}`` over HTTP for a 7-day, all-tenant range ending at an
unaligned instant, and each endpoint's handler is also run in-process under ``raw_only()`` as the
baseline: same code, same SQL shape, raw ``llm_calls`` only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_P95_MS = 150.0
DAYS = 7
ENDPOINTS: dict[str, dict[str, str]] = {
    "summary": {},
    "mix": {"by": "tier", "interval": "1h"},
    "cost": {"group_by": "route"},
    "escalations": {"group_by": "route"},
    "drift": {"window": "1d", "baseline": "6d"},
}


def percentile(values: list[float], level: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(level * (len(ordered) - 1)))]


def _fill_rollups(client: Any, data_start: datetime, data_end: datetime) -> None:
    """Fill every rollup from the raw table with the views' own aggregates (per-minute: edges only)."""
    from tiermix_server.metrics.sources import FAMILIES

    floors = {60: "toStartOfMinute", 3600: "toStartOfHour", 86400: "toStartOfDay"}
    for family in FAMILIES:
        dims = ", ".join(f"{expr} AS {name}" for name, expr in family.dimensions.items())
        counters = ", ".join(f"{expr} AS {name}" for name, expr in family.counters.items())
        columns = ", ".join(["bucket", *family.dimensions, *family.counters])
        where = f"WHERE {family.raw_filter}" if family.raw_filter else ""
        for step_s, table in family.rollups.items():
            floor = floors[step_s]
            rows = where
            if step_s == 60 and 3600 in family.rollups:
                # the 7-day queries read per-minute rows only in the partial hours at either end (a family
                # with no hourly rollup, the request sample, reads its per-minute rows throughout)
                edges = (
                    "(c.ts < {edge_start:DateTime64(6, 'UTC')} OR c.ts >= {edge_end:DateTime64(6, 'UTC')})"
                )
                rows = f"{where} AND {edges}" if where else f"WHERE {edges}"
            client.command(
                f"INSERT INTO {table} ({columns}) SELECT {floor}(c.ts) AS bucket, {dims}, {counters} "
                f"FROM llm_calls AS c {rows} GROUP BY bucket, {', '.join(family.dimensions)}",
                parameters={
                    "edge_start": data_start + timedelta(hours=2),
                    "edge_end": data_end - timedelta(hours=2),
                },
            )
            client.command(f"OPTIMIZE TABLE {table} FINAL")


def _wait_for_merges(client: Any, timeout_s: float = 600.0) -> None:
    """Let background merges of the bulk load finish: a steady state is what the figures describe."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.query("SELECT count() FROM system.merges").result_rows[0][0] == 0:
            return
        time.sleep(1.0)


def _drop_views(client: Any) -> None:
    from tiermix_server.metrics.sources import ROLLUP_VIEWS

    for view in ROLLUP_VIEWS:
        client.command(f"DROP VIEW IF EXISTS {view}")


def _serve(settings: Any) -> tuple[str, Any, threading.Thread]:
    import uvicorn

    from tiermix_server.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port,
                                           log_level="warning", lifespan="on"))  # fmt: skip
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{settings.port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return url, server, thread
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("bench server did not start")


def _timed(fn: Any, repeats: int) -> list[float]:
    fn()  # warm caches (marks, parts) the way a dashboard that is in use has them warm
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure(
    calls: int,
    repeats: int,
    raw_repeats: int,
    data_dir: Path,
    days: int = DAYS,
    only: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """One size, in this process: generate ``days`` of calls, serve, time (the views in ``only``, or all).
    Must run in a fresh process (own chDB dir)."""
    sys.path.insert(0, str(REPO))
    from starlette.datastructures import QueryParams

    from tests.support.calls import generate_in_engine
    from tiermix_server.api import handlers, params
    from tiermix_server.api.query import Query
    from tiermix_server.metrics.sources import raw_only
    from tiermix_server.pricing.tiers import default_map_data
    from tiermix_server.settings import Settings
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = Settings(data_dir=data_dir, port=_free_port(), alerts_enabled=False)
    client = connect(settings)
    migrate(client, settings)
    data_end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    _drop_views(client)
    started = time.perf_counter()
    generate_in_engine(client, calls, data_end - timedelta(days=days), data_end)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    _fill_rollups(client, data_end - timedelta(days=days), data_end)
    rollup_s = time.perf_counter() - started
    _wait_for_merges(client)
    stored = client.query("SELECT count() FROM llm_calls").result_rows[0][0]
    hourly = client.query("SELECT count() FROM llm_calls_1h").result_rows[0][0]
    print(f"   {stored:,} calls generated in {generate_s:.1f}s, rollups in {rollup_s:.1f}s "
          f"({hourly:,} hourly rows)", file=sys.stderr, flush=True)  # fmt: skip

    # "now" as the API's default end is: a whole minute (here 23 minutes into the last hour), so the range
    # reads 1h rows plus per-minute rows at the edges; one extra case is unaligned to the second
    end = data_end - timedelta(minutes=23)
    unaligned = end - timedelta(seconds=17.5)
    cases: list[tuple[str, str, dict[str, str]]] = []
    for name, extra in ENDPOINTS.items():
        if only and name not in only:
            continue
        label = name
        if name == "mix" and days > 14:
            extra = {**extra, "interval": "1d"}  # what the dashboard asks for over more than 14 days
            label = "mix (interval=1d)"
        if name == "drift":
            cases.append((name, label, {"end": end.isoformat(), **extra}))
        else:
            cases.append(
                (
                    name,
                    label,
                    {"start": (end - timedelta(days=days)).isoformat(), "end": end.isoformat(), **extra},
                )
            )
    if not only:
        cases.append(("cost", "cost (percentiles=false)", {**cases[2][2], "percentiles": "false"}))
        unaligned_range = {
            "start": (unaligned - timedelta(days=days)).isoformat(),
            "end": unaligned.isoformat(),
        }
        cases.append(("summary", "summary (unaligned range)", unaligned_range))
    url, server, thread = _serve(settings)
    size = f"{stored / 1e6:.0f}M" if stored >= 1e6 else f"{stored / 1e3:.0f}k"
    rows: list[dict[str, Any]] = []
    try:
        for name, label_name, query in cases:
            full = f"{url}/api/v1/{name}?" + urllib.parse.urlencode(query)

            def over_http(full: str = full) -> None:
                with urllib.request.urlopen(full, timeout=120) as response:
                    response.read()

            api_ms = _timed(over_http, repeats)
            query_params = QueryParams(query)
            tier_list = tuple(tier.name for tier in default_map_data()[0])
            handler = getattr(handlers, f"{name}_view")
            q = Query(
                client, params.filters(query_params, lambda: end), query_params, "json", {}, tier_list, None
            )

            def raw(handler: Any = handler, q: Any = q) -> None:
                with raw_only():
                    handler(q)

            raw_ms = _timed(raw, raw_repeats)
            for level, label in ((0.5, "p50"), (0.95, "p95")):
                value, baseline = percentile(api_ms, level), percentile(raw_ms, level)
                rows.append({
                    "name": f"/api/v1/{label_name} {label} @{size} calls, {days} days",
                    "value": round(value, 2), "unit": "ms",
                    "baseline": round(baseline, 2), "baseline_name": "same handler on raw llm_calls only",
                    "ratio": round(baseline / value, 2) if value else None,
                    "target": f"<= {TARGET_P95_MS:.0f} ms" if label == "p95" else None,
                })  # fmt: skip
            p50, p95 = percentile(api_ms, 0.5), percentile(api_ms, 0.95)
            raw_p50 = statistics.median(raw_ms)
            line = f"   {label_name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms (raw p50 {raw_p50:.1f} ms)"
            print(line, file=sys.stderr, flush=True)
        if not only:
            rows += _finops_views(client, settings, url, data_end, size, repeats, summary_p95(rows))
        rows.append(_disk_per_call(client, stored, days))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    return rows


FINOPS_TARGET_P95_MS = 300.0


def summary_p95(rows: list[dict[str, Any]]) -> float:
    return next(r["value"] for r in rows if r["name"].startswith("/api/v1/summary p95"))


def _finops_views(
    client: Any, settings: Any, url: str, data_end: datetime, size: str, repeats: int, summary_p95_ms: float
) -> list[dict[str, Any]]:
    """Budgets (one over everything, one per tenant) and the reconciliation of a bill for every day,
    provider and model of the data (written as a sync would): p95 next to the summary's in this run."""
    from tiermix_server.bills.bill import Bill, CostLine, UsageLine
    from tiermix_server.bills.store import write_bill
    from tiermix_server.meta.budgets import create_budget
    from tiermix_server.meta.db import open_meta

    meta = open_meta(settings)
    tenants = [t for (t,) in client.query("SELECT DISTINCT tenant FROM llm_calls_1h").result_rows]
    for tenant in [None, *tenants]:
        values = {"name": "", "tenant": tenant, "route": None, "period": "month", "starts_on": None,
                  "ends_on": None, "amount_usd": 1000.0}  # fmt: skip
        create_budget(meta, values)
    found = client.query(
        "SELECT toDate(bucket), provider, model, sum(cost_usd), sum(input_tokens), sum(output_tokens) "
        "FROM llm_calls_1h GROUP BY 1, 2, 3"
    ).result_rows
    bill = Bill(sorted({row[0] for row in found}))
    for day, provider, model, cost, tokens_in, tokens_out in found:
        bill.lines.append(CostLine(day, provider, f"{model}, usage", model, float(cost) * 1.02))
        bill.usage.append(UsageLine(day, provider, model, int(tokens_in), int(tokens_out), 0, 0))
    write_bill(client, "bench", bill)
    start = (data_end - timedelta(days=DAYS)).date()
    end = data_end.date() + timedelta(days=1)
    cases = {
        "budgets": "/api/v1/budgets",
        "reconciliation": f"/api/v1/reconciliation?start={start}&end={end}",
    }
    rows = []
    for name, path in cases.items():

        def over_http(full: str = url + path) -> None:
            with urllib.request.urlopen(full, timeout=120) as response:
                response.read()

        api_ms = _timed(over_http, repeats)
        p95 = percentile(api_ms, 0.95)
        rows.append({
            "name": f"/api/v1/{name} p95 @{size} calls, {DAYS} days", "value": round(p95, 2), "unit": "ms",
            "baseline": summary_p95_ms, "baseline_name": "/api/v1/summary p95, same run",
            "ratio": round(summary_p95_ms / p95, 2) if p95 else None,
            "target": f"<= {FINOPS_TARGET_P95_MS:.0f} ms",
        })  # fmt: skip
        print(
            f"   {name}: p50 {percentile(api_ms, 0.5):.1f} ms, p95 {p95:.1f} ms", file=sys.stderr, flush=True
        )
    return rows


def _disk_per_call(client: Any, stored: int, days: int) -> dict[str, Any]:
    """Bytes on disk per stored call, every table of the database (raw, rollups, samples, keys)."""
    raw, total = client.query(
        "SELECT sumIf(bytes_on_disk, table = 'llm_calls'), sum(bytes_on_disk) FROM system.parts "
        "WHERE database = currentDatabase() AND active"
    ).result_rows[0]
    size = f"{stored / 1e6:.0f}M" if stored >= 1e6 else f"{stored / 1e3:.0f}k"
    return {
        "name": f"disk per call, every table @{size} calls, {days} days", "value": round(total / stored, 2),
        "unit": "bytes/call", "baseline": round(raw / stored, 2), "baseline_name": "llm_calls alone",
        "ratio": round(total / raw, 2) if raw else None, "target": "report",
    }  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_sizes(
    sizes: list[int], repeats: int, raw_repeats: int, days: int = DAYS, only: str = ""
) -> list[dict[str, Any]]:
    """Each size in a child process (fresh chDB engine and data dir); rows collected from its stdout."""
    rows: list[dict[str, Any]] = []
    for calls in sizes:
        # the parent owns the data dir: the child's engine writes until the child exits (50M calls ~ 3 GB)
        data_dir = Path(tempfile.mkdtemp(prefix="tiermix-bench-queries-"))
        command = [sys.executable, "-m", "bench.queries", "--child", str(calls), "--repeats", str(repeats),
                   "--raw-repeats", str(raw_repeats), "--data-dir", str(data_dir), "--days", str(days),
                   "--only", only]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        try:
            done = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, check=True)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        rows.extend(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def run(quick: bool) -> list[dict[str, Any]]:
    if quick:
        return run_sizes([1_000_000], repeats=20, raw_repeats=5)
    return run_sizes([10_000_000, 50_000_000], repeats=40, raw_repeats=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queries", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000000,50000000", help="comma-separated call counts")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--raw-repeats", type=int, default=5)
    parser.add_argument("--days", type=int, default=DAYS, help="days of data, and the range queried")
    parser.add_argument("--only", default="", help="comma-separated views (summary, mix, ...); default all")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        only = frozenset(name for name in args.only.split(",") if name)
        print(json.dumps(measure(args.child, args.repeats, args.raw_repeats, args.data_dir, args.days, only)))
        return 0
    sizes = [int(n) for n in args.rows.split(",")]
    rows = run_sizes(sizes, args.repeats, args.raw_repeats, args.days, args.only)
    for row in rows:
        print(f"{row['name']:<48} {row['value']:>9.1f} {row['unit']}   {row['baseline_name']} "
              f"{row['baseline']:>9.1f}   x{row['ratio']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
