"""Look-ups of call keys in storage leave nothing behind in ClickHouse's query condition cache.

Each look-up asks for keys never asked before, so a cache entry it left would never be read again:
over an hour of catching up after a crash that cache grew ~0.33 MiB a minute (docs/performance.md).
"""

from __future__ import annotations

import random
from typing import Any

from tiermix_server.ingest.write import KNOWN_KEYS_SQL, ClickHouseWriter


def _cache_entries(client: Any) -> int:
    return int(client.command("SELECT count() FROM system.query_condition_cache"))


def _fresh_keys(rng: random.Random) -> list[int]:
    return [rng.randrange(1, 2**63) for _ in range(200)]


def test_key_lookups_add_no_query_condition_cache_entries(clickhouse: Any) -> None:
    clickhouse.command(
        "INSERT INTO call_keys (key, ts) SELECT cityHash64(number), now64(3) FROM numbers(300000)"
    )
    rng = random.Random(7)
    stored = [int(row[0]) for row in clickhouse.query("SELECT key FROM call_keys LIMIT 3").result_rows]
    writer = ClickHouseWriter(clickhouse)

    before = _cache_entries(clickhouse)
    for _ in range(20):
        assert writer.known_keys([*_fresh_keys(rng), *stored]) == set(stored)
    after_writer = _cache_entries(clickhouse)

    for _ in range(20):  # the same look-ups without the setting: the cache does grow, so it is measured
        clickhouse.query(KNOWN_KEYS_SQL, parameters={"keys": _fresh_keys(rng)})
    after_plain = _cache_entries(clickhouse)

    assert after_writer == before
    assert after_plain > after_writer
