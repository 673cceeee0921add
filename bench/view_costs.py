"""What each rollup view costs at insert: the same rows into ``llm_calls`` with every view, and without one.

``python -m bench.view_costs [--batch 10000] [--rounds 3] [--calls 200000]``. One process, one chDB data
dir, the same SDK-shaped rows (decoded and priced by the collector's own ``process``) inserted through
the collector's writer in batches of ``--batch`` rows (its batches hold up to 0.5 s of traffic: ~10,000
calls at 20k calls/s); the tables are emptied between runs and each view is dropped, measured without,
and put back, alternating with a run with every view, ``--rounds`` times (median). Not part of
``python -m bench``: it answers a design question (is a rollup worth its insert cost), not a target.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import positive_int

REPO = Path(__file__).resolve().parents[1]


def migrated_with_rows(calls: int) -> tuple[Any, list[Any], list[Any]]:
    """A client on a fresh data dir migrated by the collector's migrations, and ``calls`` SDK-shaped
    call rows (decoded and priced by the collector's own ``process``) with their ``call_keys`` rows."""
    from bench.ingest import make_bodies
    from tiermix_server.ingest.decode import PROTOBUF, decompress, parse
    from tiermix_server.ingest.process import process
    from tiermix_server.ingest.submission import key_rows
    from tiermix_server.ingest.validate import Limits
    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing.enricher import build_enricher
    from tiermix_server.settings import Settings
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="tiermix-bench-views-")))
    enricher = build_enricher(settings, open_meta(settings))
    limits = Limits(now_ns=time.time_ns(), max_age_days=settings.raw_ttl_days)
    rows: list[Any] = []
    keys: list[Any] = []
    for body in make_bodies(max(1, calls // 1000), 1000):
        parsed = parse(decompress(body, "gzip", 1 << 30), PROTOBUF)
        processed = process(parsed, enricher=enricher, limits=limits)
        rows.extend(processed.calls)
        keys.extend(key_rows(processed.calls, processed.keys))
    client = connect(settings)
    migrate(client, settings)
    return client, rows, keys


def insert_arguments(module: str, doc: str, calls: int, argv: list[str] | None) -> argparse.Namespace:
    """``--calls``, ``--batch`` (rows per insert) and ``--rounds``, as the insert benchmarks take them."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.splitlines()[0])
    parser.add_argument("--calls", type=positive_int, default=calls)
    parser.add_argument("--batch", type=positive_int, default=10_000)
    parser.add_argument("--rounds", type=positive_int, default=3)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    return args


def main(argv: list[str] | None = None) -> int:
    args = insert_arguments("bench.view_costs", __doc__ or "", 200_000, argv)
    from tiermix_server.ingest.write import Batch, ClickHouseWriter

    client, rows, _keys = migrated_with_rows(args.calls)
    database = client.query("SELECT currentDatabase()").result_rows[0][0]
    views = dict(
        client.query(
            "SELECT name, create_table_query FROM system.tables WHERE database = {d:String} "
            "AND engine = 'MaterializedView' ORDER BY name",
            parameters={"d": database},
        ).result_rows
    )
    tables = [
        name
        for (name,) in client.query(
            "SELECT name FROM system.tables WHERE database = {d:String} AND engine LIKE '%MergeTree'",
            parameters={"d": database},
        ).result_rows
    ]
    writer = ClickHouseWriter(client)
    runs = itertools.count()

    def rate() -> float:
        for table in tables:
            client.command(f"TRUNCATE TABLE {table}")
        run = next(runs)
        started = time.perf_counter()
        for n in range(0, len(rows), args.batch):
            writer.write(Batch(f"views-{run}-{n}", rows[n : n + args.batch], [], []))
        return len(rows) / (time.perf_counter() - started)

    rate()  # warm-up: the first inserts pay for set-up
    print(f"{len(rows):,} calls in batches of {args.batch:,}, median of {args.rounds} rounds", flush=True)
    for view, create in views.items():
        with_all, without = [], []
        for _ in range(args.rounds):
            with_all.append(rate())
            client.command(f"DROP VIEW {view}")
            try:
                without.append(rate())
            finally:
                client.command(create)
        every, one_less = statistics.median(with_all), statistics.median(without)
        print(f"{view:<32} with every view {every:>9,.0f} rows/s, without it {one_less:>9,.0f}: "
              f"{every / one_less:.3f}x", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
