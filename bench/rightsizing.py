"""Right-sizing: how often the estimates cover the truth, and how fast the two endpoints answer at 10M.

``python -m bench.rightsizing [--calls 10000000] [--seeds 40]``; ``run(quick)`` for ``python -m bench``
(quick: 1M calls, 10 seeds). Runs in a child process with its own chDB data dir (one per process).

- **coverage**: the scenarios of tests/support/rightsizing_scenario.py (known acceptance function of the
  router score and the token band), one tenant per seed, through the real API: the share of (seed,
  route, band) whose savings interval holds the true expected saving (target >= 90%), the share of
  what-if thresholds whose acceptance interval holds the true acceptance, and the share of seeds whose
  ranking puts the truly over-specified routes first;
- **latency**: p50/p95 of ``/api/v1/opportunities`` (all tenants, 30 days) and ``/api/v1/routing/whatif``
  (the busiest route) over HTTP with the in-engine calls (router scores on every first attempt), against
  ``/api/v1/summary`` over the same range in the same run (target p95 <= 300 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.queries import _drop_views, _fill_rollups, _free_port, _serve, _timed, _wait_for_merges, percentile

REPO = Path(__file__).resolve().parents[1]
TARGET_P95_MS = 300.0
DAYS = 7


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=120) as response:
        return json.loads(response.read())


def coverage(url: str, scenarios: list[Any], start: datetime, end: datetime) -> list[dict[str, Any]]:
    from tests.support.rightsizing_scenario import LONG, ROUTES, SHORT

    labels = {SHORT: "0-999", LONG: "1000-3999"}
    window = {"start": start.isoformat(), "end": end.isoformat()}
    savings = [0, 0]  # covered, checked
    acceptance = [0, 0]
    ranked_first = 0
    for s in scenarios:
        query = urllib.parse.urlencode({**window, "tenant": s.tenant})
        body = _get(f"{url}/api/v1/opportunities?{query}")
        rows = {row["route"]: row for row in body["rows"]}
        ranked_first += [row["route"] for row in body["rows"]][:2] == ["faq", "support"]
        for model in ROUTES:
            bands = {b["band"]: b for b in rows[model.route]["bands"]}
            for band, label in labels.items():
                b = bands[label]
                truth = s.true_savings(model, band)
                savings[1] += 1
                whole = b["moved_requests"] == b["top_direct_requests"] and b["savings_low_usd"] is not None
                savings[0] += whole and b["savings_low_usd"] <= truth <= b["savings_high_usd"]
            query = urllib.parse.urlencode({**window, "tenant": s.tenant, "route": model.route})
            for point in _get(f"{url}/api/v1/routing/whatif?{query}")["curve"]:
                if point["threshold"] is None or point["acceptance"] is None:
                    continue
                truth = s.true_acceptance(model, point["threshold"])
                acceptance[1] += 1
                acceptance[0] += point["acceptance_low"] - 1e-9 <= truth <= point["acceptance_high"] + 1e-9
    seeds = len(scenarios)

    def row(name: str, covered: int, checked: int, target: str) -> dict[str, Any]:
        share = round(100 * covered / checked, 1)
        return {"name": f"{name} ({checked} checks, {seeds} seeds)", "value": share, "unit": "% covered",
                "baseline": None, "baseline_name": "", "ratio": None, "target": target}  # fmt: skip

    return [
        row("savings interval holds the true saving", savings[0], savings[1], ">= 90%"),
        row("what-if acceptance interval holds the truth", acceptance[0], acceptance[1], ">= 95%"),
        row("ranking puts the truly over-specified routes first", ranked_first, seeds, ">= 90%"),
    ]


def measure(calls: int, seeds: int, repeats: int, data_dir: Path) -> list[dict[str, Any]]:
    """Generate, serve, check and time, in this (fresh) process."""
    sys.path.insert(0, str(REPO))
    from tests.support.calls import generate_in_engine, insert_calls
    from tests.support.rightsizing_scenario import scenario
    from tiermix_server.settings import Settings
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = Settings(data_dir=data_dir, port=_free_port(), alerts_enabled=False)
    client = connect(settings)
    migrate(client, settings)
    data_end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    data_start = data_end - timedelta(days=DAYS)
    _drop_views(client)
    generate_in_engine(client, calls, data_start, data_end)
    scenario_start = data_end - timedelta(days=2)
    scenarios = [scenario(seed, scenario_start, timedelta(days=1)) for seed in range(seeds)]
    insert_calls(client, [row for s in scenarios for row in s.rows])
    _fill_rollups(client, data_start, data_end)
    _wait_for_merges(client)
    stored = client.query("SELECT count() FROM llm_calls").result_rows[0][0]
    busiest = client.query(
        "SELECT route FROM llm_calls WHERE attempt = 0 GROUP BY route ORDER BY count() DESC LIMIT 1"
    ).result_rows[0][0]
    size = f"{stored / 1e6:.0f}M" if stored >= 1e6 else f"{stored / 1e3:.0f}k"
    print(f"   {stored:,} calls; what-if on {busiest}", file=sys.stderr, flush=True)
    url, server, thread = _serve(settings)
    end = data_end - timedelta(minutes=23)
    window = {"start": (end - timedelta(days=30)).isoformat(), "end": end.isoformat()}
    cases = {
        "summary": f"{url}/api/v1/summary?" + urllib.parse.urlencode(window),
        "opportunities": f"{url}/api/v1/opportunities?" + urllib.parse.urlencode(window),
        "routing/whatif": f"{url}/api/v1/routing/whatif?"
        + urllib.parse.urlencode({**window, "route": busiest}),
    }
    rows: list[dict[str, Any]] = []
    try:
        rows += coverage(url, scenarios, scenario_start, scenario_start + timedelta(days=1))
        timings = {}
        for name, full in cases.items():

            def get(full: str = full) -> None:
                with urllib.request.urlopen(full, timeout=120) as response:
                    response.read()

            timings[name] = _timed(get, repeats)
        for name in ("opportunities", "routing/whatif"):
            for level, label in ((0.5, "p50"), (0.95, "p95")):
                value, baseline = percentile(timings[name], level), percentile(timings["summary"], level)
                rows.append({
                    "name": f"/api/v1/{name} {label} @{size} calls, all tenants", "value": round(value, 2),
                    "unit": "ms", "baseline": round(baseline, 2),
                    "baseline_name": f"/api/v1/summary {label}, same range and run",
                    "ratio": round(value / baseline, 2) if baseline else None,
                    "target": f"<= {TARGET_P95_MS:.0f} ms" if label == "p95" else None,
                })  # fmt: skip
            p50, p95 = percentile(timings[name], 0.5), percentile(timings[name], 0.95)
            print(f"   {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", file=sys.stderr, flush=True)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    return rows


def run_child(calls: int, seeds: int, repeats: int) -> list[dict[str, Any]]:
    data_dir = Path(tempfile.mkdtemp(prefix="tiermix-bench-rightsizing-"))
    command = [sys.executable, "-m", "bench.rightsizing", "--child", "--calls", str(calls), "--seeds",
               str(seeds), "--repeats", str(repeats), "--data-dir", str(data_dir)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    try:
        done = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True, check=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def run(quick: bool) -> list[dict[str, Any]]:
    if quick:
        return run_child(1_000_000, seeds=10, repeats=15)
    return run_child(10_000_000, seeds=40, repeats=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rightsizing", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.calls, args.seeds, args.repeats, args.data_dir)))
        return 0
    started = time.monotonic()
    for row in run_child(args.calls, args.seeds, args.repeats):
        print(f"{row['name']}: {row['value']} {row['unit']} (target {row['target']})")
    print(f"{time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
