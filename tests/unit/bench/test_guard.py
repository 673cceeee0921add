"""The CI performance guard: a figure 3x worse than the reference fails, a slower machine alone does not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.__main__ import regressions, unguarded


def stage(value: float, parse: float) -> dict[str, Any]:
    return {
        "benchmark": "ingest",
        "name": "ingest stage: same-call collapse",
        "value": value,
        "unit": "us/call",
        "baseline": parse,
        "ratio": value / parse,
    }


def reference(tmp_path: Path, *rows: dict[str, Any]) -> Path:
    path = tmp_path / "reference.json"
    path.write_text(json.dumps({"rows": list(rows)}))
    return path


def test_a_stage_on_a_machine_three_and_a_half_times_slower_is_not_a_regression(tmp_path: Path) -> None:
    ref = reference(tmp_path, stage(1.32, 0.54))
    assert regressions([stage(1.32 * 3.5, 0.54 * 3.5)], ref, 3.0) == []  # its parse is as much slower


def test_a_stage_that_grew_against_its_own_parse_is_a_regression(tmp_path: Path) -> None:
    ref = reference(tmp_path, stage(1.32, 0.54))
    (found,) = regressions([stage(5.45, 0.54)], ref, 3.0)
    assert "share of its baseline" in found and "4.1x worse" in found


def view(value: float, raw: float) -> dict[str, Any]:
    """A query view against the same handler on raw rows; its ``ratio`` is a speed-up (raw / value)."""
    name = "/api/v1/mix p95 @1M calls, 7 days"
    return {
        "benchmark": "queries",
        "name": name,
        "value": value,
        "unit": "ms",
        "baseline": raw,
        "ratio": raw / value,
    }


def test_a_view_on_a_machine_two_and_a_half_times_slower_is_not_a_regression(tmp_path: Path) -> None:
    """The CI run of 2026-12-06 21:58 UTC: mix p95 146 ms against 39 ms in the reference (3.7x), with
    its raw-rows baseline 214 ms against 89 ms: the machine, not the view."""
    ref = reference(tmp_path, view(39.28, 89.14))
    assert regressions([view(145.6, 213.83)], ref, 3.0) == []


def test_a_view_that_lost_its_rollup_is_a_regression_whatever_the_direction_of_its_ratio(
    tmp_path: Path,
) -> None:
    ref = reference(tmp_path, view(39.28, 89.14))
    (found,) = regressions([view(160.0, 89.14)], ref, 3.0)  # as slow as the raw rows: 4.1x its share
    assert "share of its baseline" in found and "4.1x worse" in found


def test_a_rate_is_compared_by_its_share_of_its_floor_in_its_own_direction(tmp_path: Path) -> None:
    def rate(value: float, floor: float) -> dict[str, Any]:
        name = "ingest sustained calls/s stored"
        return {"benchmark": "ingest", "name": name, "value": value, "unit": "calls/s", "baseline": floor}

    ref = reference(tmp_path, rate(20_000, 25_000))
    assert regressions([rate(8_000, 10_000)], ref, 3.0) == []  # a machine 2.5x slower: the same share
    (found,) = regressions([rate(6_000, 25_000)], ref, 3.0)
    assert "3.3x worse" in found


def test_memory_is_compared_by_value_whatever_its_baseline(tmp_path: Path) -> None:
    memory = {"benchmark": "ingest", "name": "RSS", "value": 800.0, "unit": "MiB", "baseline": 400.0}
    ref = reference(tmp_path, memory)
    (found,) = regressions([{**memory, "value": 2500.0, "baseline": 1250.0}], ref, 3.0)
    assert "value 2,500 vs reference 800" in found


def test_a_time_without_a_baseline_measures_the_machine_and_is_named_as_not_guarded(tmp_path: Path) -> None:
    """The CI run of 2026-12-07 (stop 35) failed on the SDK benchmark's bare function call, its own
    baseline: 0.203 us against 0.033 in the reference, on a loaded machine; the SDK's figures, each a
    share of its same-run OpenTelemetry baseline, passed."""
    bare = {
        "benchmark": "sdk_overhead",
        "name": "bare call p50",
        "value": 0.033,
        "unit": "us",
        "baseline": None,
    }
    added = {
        "benchmark": "sdk_overhead",
        "name": "sdk added per call p50 (app thread)",
        "value": 2.732,
        "unit": "us",
        "baseline": 22.118,
    }
    ref = reference(tmp_path, bare, added)
    slower_machine = [{**bare, "value": 0.203}, {**added, "value": 2.732 * 6, "baseline": 22.118 * 6}]
    assert regressions(slower_machine, ref, 3.0) == []
    assert unguarded(slower_machine, ref) == ["sdk_overhead/bare call p50"]
    (found,) = regressions([{**added, "value": 2.732 * 6}], ref, 3.0)  # the SDK itself 6x slower
    assert "6.0x worse" in found


def test_a_time_whose_reference_has_no_baseline_is_named_as_not_guarded(tmp_path: Path) -> None:
    """A baseline added to a figure after the reference was taken: there is no share to compare yet."""
    ref = reference(tmp_path, {**stage(1.32, 0.54), "baseline": None})
    now = [stage(9.0, 0.54)]
    assert regressions(now, ref, 3.0) == []
    assert unguarded(now, ref) == ["ingest/ingest stage: same-call collapse"]


def test_a_rate_whose_same_run_baseline_came_out_zero_is_a_regression(tmp_path: Path) -> None:
    """A floor of 0 calls/s (its measurement broke) leaves nothing to take a share of: not a pass."""
    ref = reference(tmp_path, stage(1.32, 0.54))
    broken = [{**stage(1.32, 0.54), "baseline": 0.0}]
    (found,) = regressions(broken, ref, 3.0)
    assert "baseline 0.0 in this run" in found
    assert unguarded(broken, ref) == []  # a failure, not also "not guarded"
