"""What one of the collector's inserts costs, piece by piece: per insert, per row, per view, per batch size.

``python -m bench.insert_anatomy [--calls 120000] [--batch 10000] [--rounds 3]``. One process, one chDB
data dir migrated by the collector's own migrations, SDK-shaped rows decoded and priced by the
collector's own ``process``, inserted through the collector's writer (``write.ClickHouseWriter``: the
same client, settings and dedup tokens), the cycle collector tuned as in a serving collector. Every
figure is CPU of the whole process (chDB's threads and background merges included), the best of
``--rounds`` (median for the batch sizes), so it compares within the run only:

- **per call** at ``--batch`` rows, by what each step adds: rows → column lists (Python), clickhouse-connect
  encoding + chDB reading the block (insert into a ``Null`` copy of ``llm_calls``), writing the part (a
  plain ``MergeTree`` copy), the rollup views (``llm_calls`` itself), the batch's ``call_keys`` rows;
- **per insert**, the same steps with 10-row inserts, and what each view adds (measured without it);
- **by batch size**: CPU per call from 2,500 to 40,000 rows, and the fit ``fixed / rows + per call``.

Not part of ``python -m bench``: it says where ClickHouse's share of ingest goes (docs/performance.md).
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

BATCH_SIZES = (2_500, 5_000, 10_000, 20_000, 40_000)
SMALL = 10  # rows in an insert that measures the fixed cost


def _cpu_per(repeat: Callable[[], int], rounds: int, pick: Callable[[list[float]], float]) -> float:
    """CPU seconds of the process per unit ``repeat`` reports (rows or inserts), ``pick`` of ``rounds``."""
    spent = []
    for _ in range(rounds):
        started = time.process_time()
        units = repeat()
        spent.append((time.process_time() - started) / units)
    return pick(spent)


def _fit(points: dict[int, float]) -> tuple[float, float]:
    """Least squares of ``cost = fixed / rows + per_row`` over {rows: CPU µs per row}: (fixed ms, µs)."""
    xs = [1 / rows for rows in points]
    ys = list(points.values())
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return slope / 1000, mean_y - slope * mean_x


def main(argv: list[str] | None = None) -> int:
    from bench.view_costs import insert_arguments, migrated_with_rows

    args = insert_arguments("bench.insert_anatomy", __doc__ or "", 120_000, argv)
    from tiermix_server.gc_pause import tune_for_serving
    from tiermix_server.ingest.write import KEY_COLUMNS, LLM_CALLS_COLUMNS, Batch, ClickHouseWriter

    client, rows, keys = migrated_with_rows(args.calls)
    client.command("CREATE TABLE anatomy_null ENGINE = Null AS SELECT * FROM llm_calls LIMIT 0")
    client.command("CREATE TABLE anatomy_plain AS llm_calls")
    views = [
        name
        for (name,) in client.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() "
            "AND engine = 'MaterializedView' ORDER BY name"
        ).result_rows
    ]
    writer = ClickHouseWriter(client)
    tune_for_serving()
    tokens = itertools.count()

    def insert(table: str, part: list[Any]) -> None:
        if table == "llm_calls":
            writer.write(Batch(f"anatomy-{next(tokens)}", part, [], []))
        else:
            writer._insert(table, LLM_CALLS_COLUMNS, part, f"anatomy-{next(tokens)}")

    def rows_through(table: str, batch: int) -> Callable[[], int]:
        def repeat() -> int:
            for n in range(0, len(rows), batch):
                insert(table, rows[n : n + batch])
            return len(rows)

        return repeat

    def small_inserts(table: str, count: int = 30) -> Callable[[], int]:
        def repeat() -> int:
            for _ in range(count):
                insert(table, rows[:SMALL])
            return count

        return repeat

    def columns_only() -> int:
        for n in range(0, len(rows), args.batch):
            [list(column) for column in zip(*rows[n : n + args.batch], strict=True)]
        return len(rows)

    def keys_only() -> int:
        for n in range(0, len(keys), args.batch):
            writer._insert("call_keys", KEY_COLUMNS, keys[n : n + args.batch], f"anatomy-{next(tokens)}")
        return len(rows)  # per call (one call may have several keys)

    rows_through("llm_calls", args.batch)()  # warm-up: the first inserts pay for set-up
    best = min
    print(f"{len(rows):,} SDK-shaped calls, {len(keys) / len(rows):.1f} keys per call; CPU of the process, "
          f"best of {args.rounds}", flush=True)  # fmt: skip
    # Each step's insert does the steps before it too: what it adds is the difference.
    steps = {
        "rows -> column lists (Python)": columns_only,
        "+ encoding, chDB reading the block (a Null copy)": rows_through("anatomy_null", args.batch),
        "+ writing the part (a plain MergeTree copy)": rows_through("anatomy_plain", args.batch),
        "+ every rollup view (llm_calls itself)": rows_through("llm_calls", args.batch),
    }
    print(f"\nper call, in batches of {args.batch:,} rows:")
    previous = 0.0
    for name, repeat in steps.items():
        micros = _cpu_per(repeat, args.rounds, best) * 1e6
        print(f"  {name:<56} {micros - previous:6.2f} µs  (in all {micros:.2f})")
        previous = micros
    keys_micros = _cpu_per(keys_only, args.rounds, best) * 1e6
    print(f"  {'the call_keys rows of those calls (an insert of its own)':<56} {keys_micros:6.2f} µs")

    print(f"\nper insert of {SMALL} rows:")
    fixed = {table: _cpu_per(small_inserts(table), args.rounds, best) for table in
             ("anatomy_null", "anatomy_plain", "llm_calls")}  # fmt: skip
    for table, seconds in fixed.items():
        print(f"  {table:<56} {seconds * 1e3:6.2f} ms")
    for view in views:
        client.command(f"DETACH TABLE {view}")
        try:
            without = _cpu_per(small_inserts("llm_calls"), args.rounds, best)
        finally:
            client.command(f"ATTACH TABLE {view}")
        print(f"  {'  of which ' + view:<56} {(fixed['llm_calls'] - without) * 1e3:6.2f} ms")

    print("\nllm_calls with every view, by batch size (median of rounds):")
    sizes = {
        size: _cpu_per(rows_through("llm_calls", size), args.rounds, statistics.median) * 1e6
        for size in BATCH_SIZES
    }
    for size, micros in sizes.items():
        print(f"  {size:>7,} rows per insert {micros:6.2f} µs per call")
    fixed_ms, row_us = _fit(sizes)
    print(f"  fit: {fixed_ms:.1f} ms per insert + {row_us:.2f} µs per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
