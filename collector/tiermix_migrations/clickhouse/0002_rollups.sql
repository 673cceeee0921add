-- Per-minute and per-hour counters by tenant × route × environment × provider × model × tier, so the
-- dashboard's standard views never scan raw calls. Counters only (no quantile states): FACTS.md measured
-- quantile states as the expensive part of a rollup, both at insert and at query time.
-- The rollup tables keep a block-dedup window like llm_calls: with the collector's insert tokens and
-- deduplicate_blocks_in_dependent_materialized_views=1 a replayed batch is counted once here too.
-- escalations = escalated attempts, requests = first attempts (every logical request has exactly one attempt 0), answered = final attempts.
-- final_*_tokens = tokens of priced answering attempts: what savings-vs-baseline reprices (metrics/savings.py).
-- escalated_first = escalated first attempts: with escalations on the lowest tier it counts escalated requests
-- without a per-request scan (metrics/summary.py explains the rule).
CREATE TABLE IF NOT EXISTS llm_calls_1m {on_cluster}
(
    bucket             DateTime('UTC'),
    tenant             LowCardinality(String),
    route              LowCardinality(String),
    environment        LowCardinality(String),
    provider           LowCardinality(String),
    model              LowCardinality(String),
    tier               LowCardinality(String),
    calls              UInt64,
    requests           UInt64,
    answered           UInt64,
    escalations        UInt64,
    failovers          UInt64,
    errors             UInt64,
    unpriced           UInt64,
    input_tokens       UInt64,
    output_tokens      UInt64,
    cache_read_tokens  UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens   UInt64,
    cost_usd           Float64,
    escalated_cost_usd Float64,
    duration_ms_sum    Float64,
    final_input_tokens      UInt64,
    final_output_tokens     UInt64,
    final_cache_read_tokens UInt64,
    escalated_first         UInt64
)
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(bucket)
-- Time first: the per-minute rollup is read for short ranges (the edges of a long range, 1m charts), and
-- with many tenants x routes a tenant-first key cannot skip granules by time (each granule spans prefixes).
ORDER BY (bucket, tenant, route, environment, provider, model, tier)
TTL bucket + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS llm_calls_1h {on_cluster} AS llm_calls_1m
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant, route, bucket, environment, provider, model, tier)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_1m_mv {on_cluster} TO llm_calls_1m AS
SELECT
    toStartOfMinute(ts) AS bucket, tenant, route, environment, provider, model, tier,
    count() AS calls,
    countIf(attempt = 0) AS requests,
    countIf(final) AS answered,
    countIf(escalated) AS escalations,
    countIf(failover) AS failovers,
    countIf(status = 'error') AS errors,
    countIf(unpriced) AS unpriced,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd,
    sumIf(llm_calls.cost_usd, llm_calls.escalated) AS escalated_cost_usd,
    sum(duration_ms) AS duration_ms_sum,
    sumIf(llm_calls.input_tokens, llm_calls.final AND NOT llm_calls.unpriced) AS final_input_tokens,
    sumIf(llm_calls.output_tokens, llm_calls.final AND NOT llm_calls.unpriced) AS final_output_tokens,
    sumIf(llm_calls.cache_read_tokens, llm_calls.final AND NOT llm_calls.unpriced) AS final_cache_read_tokens,
    countIf(llm_calls.escalated AND llm_calls.attempt = 0) AS escalated_first
FROM llm_calls
GROUP BY bucket, tenant, route, environment, provider, model, tier;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_1h_mv {on_cluster} TO llm_calls_1h AS
SELECT
    toStartOfHour(ts) AS bucket, tenant, route, environment, provider, model, tier,
    count() AS calls,
    countIf(attempt = 0) AS requests,
    countIf(final) AS answered,
    countIf(escalated) AS escalations,
    countIf(failover) AS failovers,
    countIf(status = 'error') AS errors,
    countIf(unpriced) AS unpriced,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(cost_usd) AS cost_usd,
    sumIf(llm_calls.cost_usd, llm_calls.escalated) AS escalated_cost_usd,
    sum(duration_ms) AS duration_ms_sum,
    sumIf(llm_calls.input_tokens, llm_calls.final AND NOT llm_calls.unpriced) AS final_input_tokens,
    sumIf(llm_calls.output_tokens, llm_calls.final AND NOT llm_calls.unpriced) AS final_output_tokens,
    sumIf(llm_calls.cache_read_tokens, llm_calls.final AND NOT llm_calls.unpriced) AS final_cache_read_tokens,
    countIf(llm_calls.escalated AND llm_calls.attempt = 0) AS escalated_first
FROM llm_calls
GROUP BY bucket, tenant, route, environment, provider, model, tier;

-- Escalations and failovers by reason, per minute and per hour: only abandoned attempts go in (a minority
-- of calls), so the reasons view never scans raw calls. kind = escalation | failover; attempts_first =
-- abandoned first attempts (see escalated_first above). Per-minute rows serve the partial hours at the
-- ends of a range (time-first key, as llm_calls_1m).
CREATE TABLE IF NOT EXISTS llm_escalations_1m {on_cluster}
(
    bucket          DateTime('UTC'),
    tenant          LowCardinality(String),
    route           LowCardinality(String),
    environment     LowCardinality(String),
    model           LowCardinality(String),
    tier            LowCardinality(String),
    kind            LowCardinality(String),
    reason          LowCardinality(String),
    attempts        UInt64,
    attempts_first  UInt64,
    cost_usd        Float64
)
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, tenant, route, environment, model, tier, kind, reason)
TTL bucket + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS llm_escalations_1h {on_cluster} AS llm_escalations_1m
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant, route, bucket, environment, model, tier, kind, reason)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_escalations_1m_mv {on_cluster} TO llm_escalations_1m AS
SELECT
    toStartOfMinute(ts) AS bucket, tenant, route, environment, model, tier,
    if(llm_calls.escalated, 'escalation', 'failover') AS kind,
    llm_calls.escalation_reason AS reason,
    count() AS attempts,
    countIf(llm_calls.attempt = 0) AS attempts_first,
    sum(llm_calls.cost_usd) AS cost_usd
FROM llm_calls
WHERE llm_calls.escalated OR llm_calls.failover
GROUP BY bucket, tenant, route, environment, model, tier, kind, reason;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_escalations_1h_mv {on_cluster} TO llm_escalations_1h AS
SELECT
    toStartOfHour(ts) AS bucket, tenant, route, environment, model, tier,
    if(llm_calls.escalated, 'escalation', 'failover') AS kind,
    llm_calls.escalation_reason AS reason,
    count() AS attempts,
    countIf(llm_calls.attempt = 0) AS attempts_first,
    sum(llm_calls.cost_usd) AS cost_usd
FROM llm_calls
WHERE llm_calls.escalated OR llm_calls.failover
GROUP BY bucket, tenant, route, environment, model, tier, kind, reason;
