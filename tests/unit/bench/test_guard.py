"""The CI performance guard: a figure 3x worse than the reference fails, a slower machine alone does not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.__main__ import regressions


def stage(value: float, parse: float) -> dict[str, Any]:
    return {
        "benchmark": "ingest",
        "name": "ingest stage: same-call collapse",
        "value": value,
        "unit": "us/call",
        "baseline": parse,
        "ratio": value / parse,
        "guard": "ratio",
    }


def reference(tmp_path: Path, *rows: dict[str, Any]) -> Path:
    path = tmp_path / "reference.json"
    path.write_text(json.dumps({"rows": [{k: v for k, v in row.items() if k != "guard"} for row in rows]}))
    return path


def test_a_stage_on_a_machine_three_and_a_half_times_slower_is_not_a_regression(tmp_path: Path) -> None:
    ref = reference(tmp_path, stage(1.32, 0.54))
    assert regressions([stage(1.32 * 3.5, 0.54 * 3.5)], ref, 3.0) == []  # its parse is as much slower


def test_a_stage_that_grew_against_its_own_parse_is_a_regression(tmp_path: Path) -> None:
    ref = reference(tmp_path, stage(1.32, 0.54))
    (found,) = regressions([stage(5.45, 0.54)], ref, 3.0)
    assert "share of its baseline" in found and "4.1x worse" in found


def test_a_plain_figure_is_still_compared_by_value(tmp_path: Path) -> None:
    row = {"benchmark": "sdk", "name": "app thread p50", "value": 2.0, "unit": "us", "ratio": 0.1}
    ref = reference(tmp_path, row)
    assert regressions([{**row, "value": 6.5, "ratio": 0.1}], ref, 3.0) != []
