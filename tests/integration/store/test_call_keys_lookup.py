"""A look-up in ``call_keys`` decompresses 8 KiB blocks, not 64 KiB ones (migration 0010).

The collector asks ``call_keys`` for a request's keys while it catches up after a restart (and on every
request with ``TIERMIX_REPLICAS=many``); each key asked reads one granule, by decompressing the whole
block that holds it. At 20M keys that was ~115 MB a look-up in 64 KiB blocks (``python -m
bench.key_lookup``: 75 ms; 47 ms in 8 KiB blocks).
"""

from __future__ import annotations

import random
import statistics
from typing import Any

from tiermix_server.ingest.write import ClickHouseWriter
from tiermix_server.store.clickhouse import connect
from tiermix_server.store.migrate import bundled_migrations, migrate

# Over min_bytes_for_wide_part (10 MiB) once merged: a compact part keeps a block per granule whatever
# the setting, so a smaller table could not tell the two schemas apart.
STORED = 1_200_000
SMALL_BLOCKS = 10  # the migration's version


def _read_events(client: Any) -> dict[str, int]:
    rows = client.query(
        "SELECT event, value FROM system.events "
        "WHERE event IN ('CompressedReadBufferBytes', 'CompressedReadBufferBlocks')"
    ).result_rows
    return {event: int(value) for event, value in rows}


def _fill(client: Any) -> None:
    client.command(
        f"INSERT INTO call_keys SELECT sipHash64(number) AS key, now() AS ts FROM numbers({STORED})"
    )


def _block_sizes_of_a_look_up(client: Any) -> list[float]:
    """Bytes per decompressed block, for three look-ups of 3,000 keys (half of them stored)."""
    client.command("OPTIMIZE TABLE call_keys FINAL")  # one part, as merges leave a long-running table
    parts = client.query(
        "SELECT groupUniqArray(part_type), sum(rows) FROM system.parts "
        "WHERE database = currentDatabase() AND table = 'call_keys' AND active"
    ).result_rows[0]
    assert (parts[0], parts[1]) == (["Wide"], STORED)
    rng = random.Random(3)
    numbers = rng.sample(range(STORED), 1_500)
    stored = [row[0] for row in client.query(
        "SELECT sipHash64(arrayJoin({n:Array(UInt64)}))", parameters={"n": numbers}
    ).result_rows]  # fmt: skip
    asked = stored + [rng.getrandbits(64) for _ in range(1_500)]
    # system.events counts the whole process: the median of three look-ups leaves out one that a
    # background merge of another table happened to overlap.
    sizes = []
    for _ in range(3):
        before = _read_events(client)
        found = ClickHouseWriter(client).known_keys(asked)
        after = _read_events(client)
        assert found == set(stored)
        read = after["CompressedReadBufferBytes"] - before["CompressedReadBufferBytes"]
        blocks = after["CompressedReadBufferBlocks"] - before["CompressedReadBufferBlocks"]
        assert blocks > 100, (read, blocks)
        sizes.append(read / blocks)
    return sizes


def test_a_key_look_up_decompresses_blocks_of_8_kib(clickhouse: Any) -> None:
    _fill(clickhouse)
    sizes = _block_sizes_of_a_look_up(clickhouse)
    # 8 KiB with 0010 (a granule of keys is 8 KiB, two of timestamps), 64 KiB before it
    assert statistics.median(sizes) <= 9 * 1024, [f"{size / 1024:.1f} KiB" for size in sizes]


def test_keys_stored_before_the_upgrade_get_small_blocks_once_merged(settings: Any) -> None:
    client = connect(settings)
    try:
        released = [m for m in bundled_migrations() if m.version < SMALL_BLOCKS]
        migrate(client, settings, released)
        _fill(client)  # written in 64 KiB blocks, by the schema before 0010
        assert migrate(client, settings) == ["0010_call_keys_small_blocks.sql"]
        sizes = _block_sizes_of_a_look_up(client)  # merged after the upgrade
        assert statistics.median(sizes) <= 9 * 1024, [f"{size / 1024:.1f} KiB" for size in sizes]
    finally:
        client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
