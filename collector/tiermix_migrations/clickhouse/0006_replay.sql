-- Shadow replay (docs/replay.md). Content lives here and only here: llm_calls never holds a prompt or an
-- answer. Both tables expire per row at expires_at (the call's time + TIERMIX_CAPTURE_TTL_DAYS when the
-- row was written), and every read also filters expires_at > now(): a row past its TTL is never served,
-- even before a merge removes it. Keyed by span_id like llm_calls, so a replayed export collapses.

-- A sampled production call kept for replay: the request as sent (messages and parameters, JSON) and
-- the production answer, both redacted before they were written, with the call's own figures.
CREATE TABLE IF NOT EXISTS replay_captures {on_cluster}
(
    ts              DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    expires_at      DateTime('UTC'),
    tenant          LowCardinality(String),
    route           LowCardinality(String),
    environment     LowCardinality(String),
    span_id         UInt64,
    request_id      UInt64,
    attempt         UInt8,
    final           Bool,
    status          LowCardinality(String),
    provider        LowCardinality(String),
    model           LowCardinality(String),
    tier            LowCardinality(String),
    router          LowCardinality(String),
    routing_score   Nullable(Float32),
    duration_ms     Float32,
    input_tokens    UInt32,
    output_tokens   UInt32,
    cost_usd        Float64,
    unpriced        Bool,
    request         String CODEC(ZSTD(3)),
    response        String CODEC(ZSTD(3)),
    bytes           UInt32,
    captured_at     DateTime('UTC') DEFAULT now()
)
ENGINE = {replicated}ReplacingMergeTree(captured_at)
PARTITION BY toYYYYMMDD(expires_at)
ORDER BY (tenant, route, span_id)
TTL expires_at
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 0;

-- One judged sample of a replay run: the candidate's answer and figures, and the verdict with its
-- reasons. verdict: 1 servable, 0 not, -1 no verdict (the candidate or the judge failed for good).
CREATE TABLE IF NOT EXISTS replay_samples {on_cluster}
(
    run_id              UInt64,
    tenant              LowCardinality(String),
    route               LowCardinality(String),
    span_id             UInt64,
    ts                  DateTime64(6, 'UTC'),
    expires_at          DateTime('UTC'),
    production_model    LowCardinality(String),
    production_tier     LowCardinality(String),
    candidate_provider  LowCardinality(String),
    candidate_model     LowCardinality(String),
    candidate_tier      LowCardinality(String),
    first_attempt       Bool,
    router              LowCardinality(String),
    routing_score       Nullable(Float32),
    input_tokens        UInt32,
    production_ms       Float32,
    production_output_tokens UInt32,
    production_cost_usd Float64,
    candidate_answer    String CODEC(ZSTD(3)),
    candidate_ms        Float32,
    candidate_input_tokens  UInt32,
    candidate_output_tokens UInt32,
    candidate_cost_usd  Float64,
    judge_cost_usd      Float64,
    verdict             Int8,
    reasons             String CODEC(ZSTD(3)),
    retries             UInt16,
    error               String,
    judged_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {replicated}ReplacingMergeTree(judged_at)
PARTITION BY toYYYYMMDD(expires_at)
ORDER BY (tenant, run_id, span_id)
TTL expires_at
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 0;
