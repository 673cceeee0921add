-- One row per LLM call (DESIGN.md §3). span_id is the dedup key: ReplacingMergeTree collapses replays at
-- merge time, and the collector's insert tokens make replayed batches exact before that.
-- Ids are stored as integers, not hex text: they are the incompressible part of a row.
CREATE TABLE IF NOT EXISTS llm_calls {on_cluster}
(
    ts                 DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    duration_ms        Float32 CODEC(ZSTD(1)),
    ttft_ms            Nullable(Float32),
    trace_id           FixedString(16),
    span_id            UInt64,
    parent_span_id     UInt64,
    request_id         UInt64,
    attempt            UInt8,
    final              Bool,
    escalated          Bool,
    failover           Bool,
    escalation_reason  LowCardinality(String),
    escalation_detail  String CODEC(ZSTD(1)),
    tenant             LowCardinality(String),
    route              LowCardinality(String),
    environment        LowCardinality(String),
    service            LowCardinality(String),
    user_hash          String CODEC(ZSTD(1)),
    provider           LowCardinality(String),
    operation          LowCardinality(String),
    request_model      LowCardinality(String),
    model              LowCardinality(String),
    tier               LowCardinality(String),
    tier_source        LowCardinality(String),
    router             LowCardinality(String),
    routing_reason     LowCardinality(String),
    routing_score      Nullable(Float32),
    input_tokens       UInt32 CODEC(T64, ZSTD(1)),
    output_tokens      UInt32 CODEC(T64, ZSTD(1)),
    cache_read_tokens  UInt32 CODEC(T64, ZSTD(1)),
    cache_write_tokens UInt32 CODEC(T64, ZSTD(1)),
    reasoning_tokens   UInt32 CODEC(T64, ZSTD(1)),
    cost_usd           Float64 CODEC(ZSTD(1)),
    price_source       LowCardinality(String),
    unpriced           Bool,
    status             LowCardinality(String),
    error_type         LowCardinality(String),
    finish_reason      LowCardinality(String),
    tags               Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ingested_at        DateTime('UTC') DEFAULT now() CODEC(Delta, ZSTD(1))
)
ENGINE = {replicated}ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, route, ts, span_id)
TTL toDateTime(ts) + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192;
