"""What a look-up in ``call_keys`` costs, with the table as migration 0010 leaves it and as it was before.

``python -m bench.key_lookup [--keys 20000000] [--asked 3000] [--rounds 7]``. One process, one chDB
data dir, two databases migrated by the collector's own migrations: one up to 0009 (the baseline, 64 KiB
compressed blocks), one with every migration (0010: 8 KiB blocks). Both get the same ``--keys`` random
keys, inserted in 1M-key batches and merged into one part per month (``OPTIMIZE … FINAL``: what a
long-running table's merges leave), then the collector's writer asks each the same ``--asked`` keys (half
of them stored: a catching-up request finds some of its calls) through ``known_keys``, the call the
pipeline makes. Rounds alternate between the two tables; each prints the median time, and the bytes and
blocks ClickHouse decompressed per look-up (``system.events``). Not part of ``python -m bench``: it
answers whether the migration is worth it, on the path a collector takes only while it catches up.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BATCH = 1_000_000
READ_EVENTS = ("CompressedReadBufferBytes", "CompressedReadBufferBlocks")


def _fill(client: Any, keys: int) -> None:
    for start in range(0, keys, BATCH):
        client.command(
            "INSERT INTO call_keys SELECT sipHash64(number, 'tiermix-bench') AS key, "
            "now() - toIntervalSecond(number % 3600) AS ts "
            f"FROM numbers({start}, {min(BATCH, keys - start)})"
        )
    client.command("OPTIMIZE TABLE call_keys FINAL")


def _asked(client: Any, keys: int, asked: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    stored = [rng.randrange(keys) for _ in range(asked // 2)]
    found = client.query(
        "SELECT sipHash64(arrayJoin({s:Array(UInt64)}), 'tiermix-bench')", parameters={"s": stored}
    ).result_rows
    return [row[0] for row in found] + [rng.getrandbits(64) for _ in range(asked - len(found))]


def _events(client: Any) -> dict[str, int]:
    rows = client.query(
        "SELECT event, value FROM system.events WHERE event IN {e:Array(String)}",
        parameters={"e": list(READ_EVENTS)},
    ).result_rows
    return {event: int(value) for event, value in rows}


def _look_up(client: Any, writer: Any, keys: list[int]) -> tuple[float, dict[str, int], int]:
    before = _events(client)
    started = time.perf_counter()
    found = writer.known_keys(keys)
    elapsed = time.perf_counter() - started
    after = _events(client)
    return elapsed, {e: after.get(e, 0) - before.get(e, 0) for e in READ_EVENTS}, len(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.key_lookup", description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20_000_000)
    parser.add_argument("--asked", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from tiermix_server.ingest.write import ClickHouseWriter
    from tiermix_server.settings import Settings
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import bundled_migrations, migrate

    data_dir = Path(tempfile.mkdtemp(prefix="tiermix-bench-keys-"))
    migrations = bundled_migrations()
    tables = {
        "before 0010 (64 KiB blocks)": [m for m in migrations if m.version < 10],
        "with 0010 (8 KiB blocks)": migrations,
    }
    clients: dict[str, Any] = {}
    for number, (label, applied) in enumerate(tables.items()):
        settings = Settings(data_dir=data_dir, clickhouse_database=f"keys_{number}")
        client = connect(settings)
        migrate(client, settings, applied)
        started = time.perf_counter()
        _fill(client, args.keys)
        parts = client.query(
            "SELECT count(), sum(rows), any(part_type), sum(bytes_on_disk) FROM system.parts "
            "WHERE database = currentDatabase() AND table = 'call_keys' AND active"
        ).result_rows[0]
        print(
            f"{label}: {parts[1]:,} keys in {parts[0]} {parts[2]} part(s), {parts[3] / parts[1]:.2f} bytes "
            "a key on disk, filled in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        clients[label] = client

    asked = _asked(next(iter(clients.values())), args.keys, args.asked, seed=7)
    results: dict[str, list[tuple[float, dict[str, int], int]]] = {label: [] for label in clients}
    for _ in range(args.rounds):
        for label, client in clients.items():
            results[label].append(_look_up(client, ClickHouseWriter(client), asked))
    found = {r[2] for runs in results.values() for r in runs}
    if len(found) != 1:  # every look-up, of either table, must find the same stored keys
        print(f"the look-ups found different numbers of keys: {sorted(found)}", file=sys.stderr)
        return 1
    print(
        f"\n{args.asked:,} keys asked of {args.keys:,} stored, {found.pop()} found; "
        f"median of {args.rounds} look-ups each"
    )
    baseline = 0.0
    for label, runs in results.items():
        ms = statistics.median(r[0] for r in runs) * 1000
        read = statistics.median(r[1]["CompressedReadBufferBytes"] for r in runs)
        blocks = statistics.median(r[1]["CompressedReadBufferBlocks"] for r in runs)
        baseline = baseline or ms
        print(
            f"  {label:<28} {ms:8.1f} ms  ({ms / baseline:.2f}x)  {read / 1e6:7.1f} MB decompressed "
            f"in {blocks:,.0f} blocks ({read / max(blocks, 1) / 1024:.1f} KiB each)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
