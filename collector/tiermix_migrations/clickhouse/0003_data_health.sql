-- Data health (DESIGN.md §7): what SDKs reported dropping, and what the collector rejected or skipped.
CREATE TABLE IF NOT EXISTS sdk_drops {on_cluster}
(
    ts          DateTime64(6, 'UTC'),
    span_id     UInt64,
    since       DateTime64(6, 'UTC'),
    tenant      LowCardinality(String),
    service     LowCardinality(String),
    environment LowCardinality(String),
    reason      LowCardinality(String),
    dropped     UInt64
)
ENGINE = {replicated}ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, ts, span_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS ingest_stats {on_cluster}
(
    bucket   DateTime('UTC'),
    tenant   LowCardinality(String),
    outcome  LowCardinality(String),
    reason   LowCardinality(String),
    spans    UInt64
)
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant, bucket, outcome, reason)
SETTINGS non_replicated_deduplication_window = 10000;
