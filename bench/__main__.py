"""``python -m bench``: run every benchmark, print one table, write JSON, compare with the last results.

Each benchmark module exposes ``run(quick: bool) -> list[dict]`` whose rows carry ``name``, ``value``,
``unit``, ``baseline`` (measured in the same run), ``baseline_name``, ``ratio`` and ``target``. Figures
are ratios against a baseline measured in the same run, never wall-clock assertions. ``--quick`` is the
CI mode: smaller data, and a check that no figure regressed by more than ``--max-regression`` against
the committed ``bench/results/reference-quick.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import positive_int

BENCHMARKS = ("sdk_overhead", "ingest", "restart", "queries", "rightsizing", "dashboard")
RESULTS_DIR = Path(__file__).parent / "results"
# Lower is better for these units; for the rest (throughput) higher is better.
# Counts (``calls`` lost or dropped, non-200 ``answers``, ``requests`` looked up) are lower-is-better too;
# rates carry "/s".
_LOWER_IS_BETTER = {
    "us",
    "ms",
    "s",
    "MiB",
    "bytes",
    "B",
    "bytes/call",
    "us/call",
    "%",
    "calls",
    "answers",
    "requests",
}
# Times and rates move with the machine's speed, which varied 2.5x from one day to the next here; each
# such figure with a baseline has it measured in the same run, so CI guards its share of that baseline.
_SPEED_UNITS = {"us", "ms", "s", "us/call", "calls/s", "rows/s"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI mode: small data, regression check")
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(BENCHMARKS))
    parser.add_argument("--max-regression", type=float, default=3.0, help="allowed factor vs reference")
    parser.add_argument("--output", type=Path, help="JSON output path (default bench/results/latest*.json)")
    parser.add_argument(
        "--soak", type=float, default=0.0, metavar="SECONDS",
        help="ingest: after the sustained run, hold a steady load this long and report the collector's RSS "
        "growth, last minute against the middle one (900 or more: past the 10-minute window of recent calls)",
    )  # fmt: skip
    parser.add_argument(
        "--senders", type=positive_int, default=None, metavar="N",
        help="ingest: concurrent senders of 1,000-call requests in the sustained run (default 16; each waits "
        "for its answer, so too few leave the collector idle between batches)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    names = args.only.split(",") if args.only else list(BENCHMARKS)
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    for name in names:
        started = time.monotonic()
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            options: dict[str, float] = {}
            if name == "ingest" and args.soak:
                options["soak_s"] = args.soak
            if name == "ingest" and args.senders:
                options["senders"] = args.senders
            for row in module.run(quick=args.quick, **options):
                rows.append({"benchmark": name, **row})
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
        print(f"   {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)

    print_table(rows)
    output = args.output or RESULTS_DIR / ("latest-quick.json" if args.quick else "latest.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": machine(), "quick": args.quick, "rows": rows, "failures": failures}
    output.write_text(json.dumps(document, indent=2, default=str))
    print(f"\nwrote {output}")
    if args.quick:
        reference = RESULTS_DIR / "reference-quick.json"
        failures += regressions(rows, reference, args.max_regression)
        for name in unguarded(rows, reference):
            print(f"not guarded (a time or rate with no baseline here or in the reference): {name}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("benchmark", "figure", "value", "baseline (same run)", "ratio", "target")
    lines = [header]
    for row in rows:
        baseline = row.get("baseline")
        baseline_text = "" if baseline is None else f"{_fmt(baseline)} ({row.get('baseline_name', '')})"
        ratio = row.get("ratio")
        lines.append((
            row["benchmark"], row["name"], f"{_fmt(row['value'])} {row.get('unit', '')}".strip(),
            baseline_text, "" if ratio is None else f"{ratio:.2f}x", str(row.get("target") or ""),
        ))  # fmt: skip
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for index, line in enumerate(lines):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def regressions(rows: list[dict[str, Any]], reference_path: Path, max_factor: float) -> list[str]:
    """Compare each figure's value with the committed reference (same figure name, same benchmark).

    A time or a rate with a baseline (every module measures its baselines in the same run: an ingest
    stage against the protobuf parse, a view against the same handler on raw rows, a page against an
    empty page) is compared by its share of that baseline, ``value / baseline``, in the value's
    direction: a machine two or three times slower on the day moves both and leaves the share alone,
    while code that got slower moves the share. The modules' own ``ratio`` fields are not used: they
    point in different directions (a speed-up for queries, a cost share for the SDK). Anything else
    (memory, sizes, counts) is compared by value. A time or a rate without a baseline (a bare function
    call, itself the SDK's baseline) is the machine's speed, not the code's: the CI run of 2026-12-07
    read a bare call at 6x its reference on a loaded machine. It is not compared; ``unguarded`` names
    it so that the run says so; one whose reference had a baseline and this run has none (or 0)
    regresses, since its yardstick broke. A figure whose reference is 0 with target "0" (calls lost, calls
    dropped) regresses as soon as it is not 0; a higher-is-better figure that drops to 0 (no throughput
    at all) regresses too.
    """
    reference = _reference_rows(reference_path)
    found = []
    for row in rows:
        old = reference.get((row["benchmark"], row["name"]))
        new_value, old_value = row.get("value"), (old or {}).get("value")
        if not isinstance(new_value, (int, float)) or not isinstance(old_value, (int, float)):
            continue
        lower_is_better = row.get("unit") in _LOWER_IS_BETTER
        compared = "value"
        if row.get("unit") in _SPEED_UNITS:
            state = _baseline_state(row, old)
            if state == "broken":
                found.append(
                    f"{row['benchmark']}/{row['name']}: baseline {row.get('baseline')!r} in this run"
                )
            if state != "share":
                continue
            new_value, old_value = new_value / row["baseline"], old_value / (old or {})["baseline"]
            compared = "share of its baseline"
        if old_value == 0:
            if lower_is_better and new_value > 0 and str(row.get("target")).strip() == "0":
                found.append(f"{row['benchmark']}/{row['name']}: {_fmt(new_value)}, reference and target 0")
            continue
        if lower_is_better:
            factor = new_value / old_value
        else:
            factor = old_value / new_value if new_value > 0 else float("inf")
        if factor > max_factor:
            found.append(
                f"{row['benchmark']}/{row['name']}: {compared} {_fmt(new_value)} vs reference "
                f"{_fmt(old_value)} ({factor:.1f}x worse, limit {max_factor}x)"
            )
    return found


def unguarded(rows: list[dict[str, Any]], reference_path: Path) -> list[str]:
    """The times and rates ``regressions`` cannot guard: no baseline to take a share of, in this run or
    in the reference (a figure new since the reference was taken, or whose baseline was added since)."""
    reference = _reference_rows(reference_path)
    return [
        f"{row['benchmark']}/{row['name']}"
        for row in rows
        if row.get("unit") in _SPEED_UNITS
        and _baseline_state(row, reference.get((row["benchmark"], row["name"]))) == "none"
    ]


def _baseline_state(row: dict[str, Any], old: dict[str, Any] | None) -> str:
    """How a time or a rate can be guarded: ``share`` (a baseline in this run and in the reference),
    ``broken`` (the reference had one, this run's is 0 or missing: a failure) or ``none`` (not guarded)."""
    new_base, old_base = row.get("baseline"), (old or {}).get("baseline")
    if _positive(old_base):
        return "share" if _positive(new_base) else "broken"
    return "none"


def _reference_rows(reference_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    if not reference_path.exists():
        return {}
    return {(row["benchmark"], row["name"]): row for row in json.loads(reference_path.read_text())["rows"]}


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and value > 0


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


if __name__ == "__main__":
    sys.exit(main())
