"""A clean restart keeps the memory of recent calls, and only when nothing was stored in between.

Memory answers for a call that started at least the clock-skew margin (30 s) after it began watching;
these tests set that margin to 0 (``no_skew_margin``) rather than wait 30 s, and send spans that start
when they are sent, with the clock of the collector.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integration.ingest.conftest import Collector, start_collector
from tests.integration.ingest.test_stored_rows import rollup_calls
from tests.unit.ingest.builders import body, span
from tiermix_server.ingest import recent, recent_snapshot
from tiermix_server.ingest.recent import RecentKeys


@pytest.fixture(autouse=True)
def no_skew_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recent, "CLOCK_SKEW_S", 0.0)


def spans_now(count: int) -> list[Any]:
    return [span(start_ns=time.time_ns()) for _ in range(count)]


def duplicates_skipped(collector: Collector) -> int:
    sql = "SELECT sum(spans) FROM ingest_stats WHERE outcome = 'skipped' AND reason = 'duplicate'"
    return int(collector.scalar(sql))


def snapshot_path(settings: Any) -> Path:
    return Path(settings.data_dir) / recent_snapshot.SNAPSHOT_FILE


def test_after_a_clean_restart_re_sent_calls_are_answered_from_memory(make_settings: Any) -> None:
    settings = make_settings(batch_max_delay_s=0.05)
    with start_collector(settings) as first:
        spans = spans_now(5)
        assert first.post(body(spans)).status_code == 200
        stored_keys = first.metric("tiermix_recent_keys")
    saved = snapshot_path(settings).exists()
    with start_collector(settings) as second:
        restored_keys = second.metric("tiermix_recent_keys")
        assert not snapshot_path(settings).exists()  # read once: a later crash leaves no stale file
        assert second.post(body([*spans[2:], *spans_now(1)])).status_code == 200
        assert rollup_calls(second) == 6
        assert duplicates_skipped(second) == 3
        # A restarted collector used to ask call_keys about this request: its memory started empty.
        assert second.metric("tiermix_storage_duplicate_checks_total") == 0
    assert stored_keys >= 5 and restored_keys == stored_keys
    assert saved


def test_the_key_budget_is_the_collectors_setting_and_bounds_what_a_restart_takes_back(
    make_settings: Any,
) -> None:
    settings = make_settings(batch_max_delay_s=0.05)
    with start_collector(settings) as first:
        spans = spans_now(1_200)
        for start in range(0, len(spans), 300):
            assert first.post(body(spans[start : start + 300])).status_code == 200
        stored_keys = first.metric("tiermix_recent_keys")
    assert stored_keys > 1_000
    with start_collector(settings.model_copy(update={"recent_keys_max": 1_000})) as second:
        assert second.metric("tiermix_recent_keys") == 0  # over this collector's budget: not taken back
        assert second.post(body(spans[:3])).status_code == 200
        assert duplicates_skipped(second) == 3  # still counted once, by asking call_keys instead
        assert second.metric("tiermix_storage_duplicate_checks_total") >= 1
        assert second.post(body(spans_now(1_200))).status_code == 200
        second.wait_for(lambda: second.metric("tiermix_spool_bytes") == 0)
        assert second.metric("tiermix_recent_keys") <= 1_000
        assert rollup_calls(second) == 2_400


def test_memory_saved_before_other_calls_were_stored_is_not_taken_back(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(batch_max_delay_s=0.05)
    with start_collector(settings) as first:
        early = spans_now(4)
        assert first.post(body(early)).status_code == 200
    shutil.copy(snapshot_path(settings), tmp_path / "early.npz")
    with start_collector(settings) as second:
        late = spans_now(3)
        assert second.post(body(late)).status_code == 200
    shutil.copy(tmp_path / "early.npz", snapshot_path(settings))  # memory from before `late` was stored
    with start_collector(settings) as third:
        assert third.metric("tiermix_recent_keys") == 0  # refused: call_keys changed since
        assert third.post(body([*late, *early])).status_code == 200
        assert rollup_calls(third) == 7  # every re-send found in call_keys instead
        assert duplicates_skipped(third) == 7
        assert third.metric("tiermix_storage_duplicate_checks_total") == 1


@pytest.mark.parametrize("saved", [True, False], ids=["memory-taken-back", "cold-start"])
def test_with_clickhouse_down_after_a_restart_calls_from_before_it_are_still_taken(
    make_settings: Any, saved: bool
) -> None:
    """Cold, a call that started before the restart cannot be checked while ClickHouse is down: 503, and
    the client retries later. With the memory taken back, it is answered from memory and spooled."""
    settings = make_settings(batch_max_delay_s=0.05)
    with start_collector(settings) as first:
        sent, unsent = spans_now(5), spans_now(2)  # `unsent`: exports that waited out the restart
        assert first.post(body(sent)).status_code == 200
    if not saved:
        snapshot_path(settings).unlink()
    with start_collector(settings) as second:
        second.clickhouse.command("DETACH TABLE llm_calls")  # a real ClickHouse error on every write
        try:
            assert second.post(body(spans_now(1))).status_code == 200  # spooled
            second.wait_for(lambda: second.metric("tiermix_storage_up") == 0)
            answer = second.post(body([*sent[:3], *unsent]))
            assert answer.status_code == (200 if saved else 503)
        finally:
            second.clickhouse.command("ATTACH TABLE llm_calls")
        if not saved:  # the client's retry, once ClickHouse is back
            second.wait_for(lambda: second.metric("tiermix_storage_up") == 1)
            assert second.post(body([*sent[:3], *unsent])).status_code == 200
        second.wait_for(lambda: second.metric("tiermix_spool_bytes") == 0)
        assert rollup_calls(second) == 8  # 5 + 1 + 2: the three re-sent ones counted once
        assert duplicates_skipped(second) == 3


@pytest.mark.parametrize(
    ("damage", "outcome"),
    [
        ("truncate", "not restored: "),
        ("old", "not restored: saved 601 s ago, outside 0..600 s"),
        ("unsorted", "not restored: generation 0 is not sorted 8-byte keys"),
        ("over budget", "not restored: 5 keys, over the budget of 4"),
        ("format", "not restored: format 99, this collector reads 1"),
        ("oversized", "not restored: the file is "),
    ],
)
def test_a_saved_memory_that_cannot_be_trusted_is_refused_and_removed(
    clickhouse: Any, tmp_path: Path, damage: str, outcome: str
) -> None:
    path = tmp_path / recent_snapshot.SNAPSHOT_FILE
    saved = RecentKeys(max_keys=100, window_s=600)
    saved.seed([5, 1, 4, 2, 3])
    assert recent_snapshot.save(saved, path, clickhouse)
    _damage(path, damage)
    taken = RecentKeys(max_keys=100, window_s=600)
    max_keys = 4 if damage == "over budget" else 100
    result = recent_snapshot.restore(taken, path, clickhouse, window_s=600, max_keys=max_keys)
    assert result.startswith(outcome) and len(taken) == 0 and not path.exists()


def test_a_saved_memory_that_is_still_true_is_taken_back(clickhouse: Any, tmp_path: Path) -> None:
    path = tmp_path / recent_snapshot.SNAPSHOT_FILE
    saved = RecentKeys(max_keys=100, window_s=600)
    saved.seed([5, 1, 4, 2, 3])
    assert recent_snapshot.save(saved, path, clickhouse)
    taken = RecentKeys(max_keys=100, window_s=600)
    assert recent_snapshot.restore(taken, path, clickhouse, window_s=600, max_keys=100).startswith(
        "restored: 5"
    )
    assert len(taken) == 5


def _damage(path: Path, damage: str) -> None:
    import json

    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
        return
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays["header"].tobytes())
    if damage == "old":
        header["saved_at"] -= 601
    elif damage == "unsorted":
        arrays["keys0"] = arrays["keys0"][::-1].copy()
    elif damage == "format":
        header["format"] = 99
    elif damage == "oversized":  # a well-formed 2.4 MB archive: refused by its size, before it is read
        arrays["keys0"] = np.arange(300_000, dtype=np.uint64)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with path.open("wb") as out:
        np.savez(out, **arrays)


def test_a_memory_that_cannot_be_written_is_reported_and_the_stop_goes_on(
    clickhouse: Any, tmp_path: Path
) -> None:
    recent_keys = RecentKeys(max_keys=100, window_s=600)
    recent_keys.seed([1, 2, 3])
    path = tmp_path / "gone" / recent_snapshot.SNAPSHOT_FILE  # its directory does not exist
    assert recent_snapshot.save(recent_keys, path, clickhouse) is False
    assert list(tmp_path.iterdir()) == []
