"""The memory of recent call keys (``recent.py``) across a clean restart.

A restarted collector used to begin with an empty memory: for its first ten minutes every request
holding a call that started before the restart (an SDK's re-sends after a deploy, a peer's late span)
asked ClickHouse's ``call_keys``, and while ClickHouse was down such calls were refused with 503. At a
clean stop the collector now writes what memory holds to ``<data_dir>/recent-keys.npz`` together with a
*mark* of ``call_keys``: its table UUID, the highest insert block number among its parts and its row
count. The next start takes the file back only when the mark is unchanged (nothing was stored in
between, by any process), the file is younger than the memory's window and the clock has not gone
back; otherwise it starts cold, as before, and says why in the log. The file is removed once read, so
a crash later never leaves an out-of-date one behind.

Why the mark proves that nothing was stored: a MergeTree insert takes a block number above every earlier
one, and a merge keeps the highest of its parts; a part removed whole (TTL) changes the row count. Not
used with a ClickHouse cluster (replicated tables number blocks per partition) or with replicas (other
collectors insert, and memory answers for nothing there).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from tiermix_server.ingest.recent import Generation, RecentKeys
from tiermix_server.ingest.write import first_line

log = logging.getLogger("tiermix.ingest")

SNAPSHOT_FILE = "recent-keys.npz"
FORMAT = 1
_KEY_BYTES = np.dtype(np.uint64).itemsize  # a key as RecentKeys keeps it and the file holds it
# The header and each generation's zip and .npy framing: a few KiB at most, whatever the budget.
_ARCHIVE_SLACK_BYTES = 1 << 20

_MARK_SQL = """
SELECT toString(uuid),
       (SELECT max(max_block_number) FROM system.parts
        WHERE database = currentDatabase() AND table = 'call_keys' AND active),
       (SELECT sum(rows) FROM system.parts
        WHERE database = currentDatabase() AND table = 'call_keys' AND active)
FROM system.tables WHERE database = currentDatabase() AND name = 'call_keys'
"""


def snapshot_path(settings: Any) -> Path | None:
    """Where this collector keeps its memory across a clean restart; None where it must not."""
    if settings.replicas != "one" or settings.clickhouse_cluster:
        return None
    return Path(settings.data_dir) / SNAPSHOT_FILE


def storage_mark(client: Any) -> str:
    """``uuid:highest block:rows`` of ``call_keys``; raises when ClickHouse cannot answer."""
    rows = client.query(_MARK_SQL).result_rows
    if not rows:
        raise LookupError("call_keys does not exist")
    uuid, block, count = rows[0]
    return f"{uuid}:{int(block or 0)}:{int(count or 0)}"


def save(recent: RecentKeys, path: Path, client: Any) -> bool:
    """Write memory and the mark to ``path`` (atomically); False, logged, when storage cannot be marked."""
    try:
        mark = storage_mark(client)
    except Exception as exc:  # storage down at the stop: the next start is cold
        log.info("memory of recent calls not saved: cannot mark call_keys (%s)", first_line(exc))
        return False
    covered_since, generations = recent.snapshot()
    header = {"format": FORMAT, "mark": mark, "saved_at": time.time(), "covered_since": covered_since}
    header["generations"] = [[g.since, g.until] for g in generations]
    arrays: dict[str, Any] = {f"keys{index}": g.keys for index, g in enumerate(generations)}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as out:
            np.savez(out, **arrays)
        partial.replace(path)
    except OSError as exc:  # a full or read-only disk must not fail the rest of the stop
        log.warning("memory of recent calls not saved: %s", exc)
        partial.unlink(missing_ok=True)
        return False
    log.info("memory of recent calls saved: %d keys", sum(len(g.keys) for g in generations))
    return True


def restore(recent: RecentKeys, path: Path, client: Any, *, window_s: float, max_keys: int) -> str:
    """Take the file at ``path`` back into ``recent`` if it is still true; returns what happened."""
    if not path.exists():
        return "no saved memory"
    try:
        outcome = _restore(recent, path, client, window_s=window_s, max_keys=max_keys)
    except Exception as exc:  # a damaged file, or storage that cannot be marked: start cold
        outcome = f"not restored: {first_line(exc)}"
    finally:
        path.unlink(missing_ok=True)
    log.info("memory of recent calls %s", outcome)
    return outcome


def _restore(recent: RecentKeys, path: Path, client: Any, *, window_s: float, max_keys: int) -> str:
    size = path.stat().st_size
    if size > max_keys * _KEY_BYTES + _ARCHIVE_SLACK_BYTES:  # checked before a byte of it is read
        return f"not restored: the file is {size} bytes, more than {max_keys} keys can fill"
    with path.open("rb") as raw, np.load(raw, allow_pickle=False) as archive:
        header = json.loads(archive["header"].tobytes())
        if header.get("format") != FORMAT:
            return f"not restored: format {header.get('format')!r}, this collector reads {FORMAT}"
        age_s = time.time() - float(header["saved_at"])
        if not 0 <= age_s <= window_s:
            return f"not restored: saved {age_s:.0f} s ago, outside 0..{window_s:.0f} s"
        generations: list[Generation] = []
        for index, (since, until) in enumerate(header["generations"]):
            keys = archive[f"keys{index}"]
            if keys.dtype != np.uint64 or keys.ndim != 1 or bool(np.any(keys[1:] < keys[:-1])):
                return f"not restored: generation {index} is not sorted 8-byte keys"
            generations.append(Generation(float(since), float(until), keys))
    total = sum(len(g.keys) for g in generations)
    if total > max_keys:
        return f"not restored: {total} keys, over the budget of {max_keys}"
    if header["mark"] != storage_mark(client):  # last: the only check that asks ClickHouse
        return "not restored: call_keys changed since it was saved"
    recent.restore(float(header["covered_since"]), generations)
    return f"restored: {total} keys, saved {age_s:.0f} s ago"
