-- Counting once (docs/architecture.md, "one call, one row"): every stored call leaves tenant-scoped keys
-- (its span, its parent, its provider response id; collector ingest/identity.py). A span that comes
-- again — a client's retry after any downtime, another instrumentation's span of the same call — is
-- looked up here before it is accepted, so neither llm_calls nor a rollup counts it twice. Ordered by
-- key with small granules: a lookup of a batch's keys reads a few granules per key.
CREATE TABLE IF NOT EXISTS call_keys {on_cluster}
(
    key  UInt64,
    ts   DateTime('UTC') CODEC(Delta, ZSTD(1))
)
ENGINE = {replicated}ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY key
TTL ts + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 1024;

-- Every table has a retention: rollups and data-health tables follow TIERMIX_RAW_TTL_DAYS like the raw
-- table (0001 and 0002 set it on llm_calls and the per-minute rollups only).
ALTER TABLE llm_calls_1h {on_cluster} MODIFY TTL bucket + INTERVAL {raw_ttl_days} DAY;
ALTER TABLE llm_escalations_1h {on_cluster} MODIFY TTL bucket + INTERVAL {raw_ttl_days} DAY;
ALTER TABLE sdk_drops {on_cluster} MODIFY TTL toDateTime(ts) + INTERVAL {raw_ttl_days} DAY;
ALTER TABLE ingest_stats {on_cluster} MODIFY TTL bucket + INTERVAL {raw_ttl_days} DAY;
