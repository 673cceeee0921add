-- Provider bills for reconciliation (docs/reconciliation.md): what the providers' cost and usage APIs,
-- or an imported CSV / FOCUS export, say was billed per day. Each sync writes a day's lines under a new
-- sync_id and records it in bill_days; reads take each (source, day)'s latest sync, so a re-sync
-- replaces a day exactly (lines that vanished from the bill vanish here too) and a repeated sync is a
-- no-op in effect. Kept as long as calls are.

CREATE TABLE IF NOT EXISTS bill_lines {on_cluster}
(
    source      LowCardinality(String),
    day         Date,
    sync_id     UInt64,
    provider    LowCardinality(String),
    line_item   String,
    model       LowCardinality(String),
    cost_usd    Float64
)
ENGINE = {replicated}MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (source, day, sync_id, provider, line_item)
TTL day + INTERVAL {raw_ttl_days} DAY;

-- The provider's own usage report (tokens and requests per model and day), where it has one.
CREATE TABLE IF NOT EXISTS bill_usage {on_cluster}
(
    source            LowCardinality(String),
    day               Date,
    sync_id           UInt64,
    provider          LowCardinality(String),
    model             LowCardinality(String),
    input_tokens      UInt64,
    output_tokens     UInt64,
    cache_read_tokens UInt64,
    requests          UInt64
)
ENGINE = {replicated}MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (source, day, sync_id, provider, model)
TTL day + INTERVAL {raw_ttl_days} DAY;

-- Which sync holds each (source, day): the latest one wins.
CREATE TABLE IF NOT EXISTS bill_days {on_cluster}
(
    source     LowCardinality(String),
    day        Date,
    sync_id    UInt64,
    synced_at  DateTime64(3, 'UTC')
)
ENGINE = {replicated}ReplacingMergeTree(sync_id)
ORDER BY (source, day)
TTL day + INTERVAL {raw_ttl_days} DAY;
