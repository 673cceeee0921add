"""Catching up after a restart: a collector restarted under load, with and without its saved memory.

After a deploy the calls arriving first started before the new collector did: an SDK's exports that
waited out the restart. A collector that starts with an empty memory of recent keys checks each such
request against ``call_keys`` in ClickHouse (``ingest/dedup.py``); one that took back the memory its
predecessor saved at the stop (``ingest/recent_snapshot.py``) answers from memory. Legs of both kinds
in one run, each on a fresh data dir:

1. start a collector, wait until memory covers new calls (``STEADY_AFTER_S``), store 15,000 calls;
2. a load process builds its bodies (calls starting now), then the collector is stopped (SIGTERM) and
   started again on the same port: *warm* as it is, *cold* with the saved memory deleted first;
3. the load is sent flat out to the restarted collector: calls/s acknowledged, requests checked in
   ClickHouse, and calls lost (acknowledged and not written).

Not part of ``--quick``: each of the four legs (cold, warm, warm, cold) waits out the clock-skew margin
and two collector starts (~70 s each).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from bench.ingest import (
    STEADY_AFTER_S,
    _healthy,
    _load,
    _metric,
    _row,
    _wait,
    _written,
    new_place,
    spawn_load,
    start_collector,
)
from tiermix_server.ingest.recent_snapshot import SNAPSHOT_FILE


def run(quick: bool) -> list[dict[str, Any]]:
    if quick:
        return []
    seconds, concurrency, batch_size = 15.0, 16, 1000
    # Cold, warm, warm, cold: a leg run first was up to 1.3x slower than the same leg run second here,
    # so each kind runs once early and once late and the two are summed.
    legs = [
        _leg(warm=warm, seconds=seconds, concurrency=concurrency, batch_size=batch_size)
        for warm in (False, True, True, False)
    ]
    cold, warm = _sum(legs[0], legs[3]), _sum(legs[1], legs[2])
    return [
        _row(
            "ingest right after a restart, calls started before it (memory saved at the stop taken back)",
            warm["calls_per_s"],
            "calls/s",
            cold["calls_per_s"],
            "the same restart with the saved memory deleted",
            "",
        ),
        _row(
            "requests checked for duplicates in ClickHouse after a restart (memory taken back)",
            warm["looked_up"],
            "requests",
            cold["looked_up"],
            "the same restart, cold",
            "0",
        ),
        _row(
            "calls lost across the restart legs (acknowledged - written)",
            warm["lost"] + cold["lost"],
            "calls",
            warm["acked"] + cold["acked"],
            "acknowledged calls",
            "0",
        ),
    ]


def _sum(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two legs of a kind as one: calls/s over both loads' time, lookups, acknowledged and lost summed."""
    total = {key: first[key] + second[key] for key in ("looked_up", "acked", "lost", "sent", "elapsed_s")}
    return total | {"calls_per_s": total["sent"] / total["elapsed_s"]}


def _leg(*, warm: bool, seconds: float, concurrency: int, batch_size: int) -> dict[str, Any]:
    data_dir, port, url = new_place("tiermix-bench-restart-")
    first = start_collector(data_dir, port)
    try:
        _wait(lambda: _healthy(url), 120, "collector healthy")
        time.sleep(STEADY_AFTER_S)  # memory covers calls from here on
        primed, _ = _load(url, first.pid, 3.0, 4, batch_size, rate_per_s=5_000)
        _wait(lambda: _metric(url, "tiermix_spool_bytes") == 0, 120, "spool drained")
        primed_written = _written(url)
        load = spawn_load(url, seconds, concurrency, batch_size)  # its calls start now, before the restart
        assert load.stdin is not None and load.stdout is not None
    finally:
        first.terminate()
        first.wait(timeout=120)
    snapshot = data_dir / SNAPSHOT_FILE
    if not snapshot.exists():
        raise RuntimeError("the collector saved no memory at its stop")
    if not warm:
        snapshot.unlink()
    second = start_collector(data_dir, port)
    try:
        _wait(lambda: _healthy(url), 120, "collector healthy again")
        load.stdin.write("go\n")
        load.stdin.flush()
        load.wait(timeout=seconds + 300)
        result = json.loads(load.stdout.read().strip().splitlines()[-1])
        looked_up = _metric(url, "tiermix_storage_duplicate_checks_total")
        _wait(lambda: _metric(url, "tiermix_spool_bytes") == 0, 120, "spool drained")
        written = _written(url)  # this process's rows; the primed calls were written by the first
    finally:
        second.terminate()
        second.wait(timeout=120)
    return {
        "calls_per_s": result["acked_spans"] / result["elapsed_s"],
        "sent": result["acked_spans"],
        "elapsed_s": result["elapsed_s"],
        "looked_up": looked_up,
        "acked": result["acked_spans"] + primed["acked_spans"],
        "lost": primed["acked_spans"] - primed_written + result["acked_spans"] - written,
    }


def main() -> int:
    for row in run(quick=False):
        print(
            f"{row['name']}: {row['value']} {row['unit']} (baseline {row['baseline']} "
            f"{row['baseline_name']}, ratio {row['ratio']}, target {row['target'] or '-'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
