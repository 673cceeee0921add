-- Calls per day, by tenant × route × environment × provider × model × tier × router, input-token band,
-- routing-score bin and whether the call is a request's first attempt: what right-sizing reads
-- (metrics/opportunities.py, metrics/whatif.py: first attempts by band and score, spend by tier), so a
-- 30-day, all-tenant opportunities query never scans the raw calls nor the hourly rollup. Mirrors
-- metrics/sources.py BY_BAND; the integration tests compare its answers with the raw table's.
-- band: input-token band of metrics/bands.py BANDS (0-999, 1000-3999, 4000-15999, 16000-63999, 64000+).
-- score_bin: the router's score on a 0.05 grid over [0, 1] (0..19); -1 no score; -2 a score outside [0, 1]
-- (or not finite), which right-sizing counts but cannot place.
-- accepted = final and ok (answered by the attempt itself); money and tokens count priced calls only
-- (an unpriced call costs 0, so cost_usd is also the spend).
CREATE TABLE IF NOT EXISTS llm_calls_by_band_1d {on_cluster}
(
    bucket             DateTime('UTC'),
    tenant             LowCardinality(String),
    route              LowCardinality(String),
    environment        LowCardinality(String),
    provider           LowCardinality(String),
    model              LowCardinality(String),
    tier               LowCardinality(String),
    router             LowCardinality(String),
    first              UInt8,
    band               UInt8,
    score_bin          Int8,
    calls              UInt64,
    accepted           UInt64,
    priced             UInt64,
    cost_usd           Float64,
    input_tokens       UInt64,
    output_tokens      UInt64,
    cache_read_tokens  UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens   UInt64
)
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant, route, bucket, environment, provider, model, tier, router, first, band, score_bin)
TTL bucket + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

-- The calls stored before this migration, then the view for every call after it (a collector runs its
-- migrations before it accepts traffic, so nothing is stored in between). Written like 0002's views
-- (no table alias, qualified columns where an alias shadows them): re-pricing rebuilds rollups from the
-- view's own SELECT (pricing/reprice.py).
INSERT INTO llm_calls_by_band_1d
SELECT
    toStartOfDay(ts) AS bucket, tenant, route, environment, provider, model, tier, router,
    toUInt8(attempt = 0) AS first,
    multiIf(llm_calls.input_tokens < 1000, 0, llm_calls.input_tokens < 4000, 1, llm_calls.input_tokens < 16000, 2,
            llm_calls.input_tokens < 64000, 3, 4) AS band,
    multiIf(routing_score IS NULL, -1, NOT isFinite(routing_score) OR routing_score < 0 OR routing_score > 1, -2,
            toInt8(least(floor(if(isFinite(routing_score), routing_score, 0) * 20), 19))) AS score_bin,
    count() AS calls,
    countIf(final AND status = 'ok') AS accepted,
    countIf(NOT unpriced) AS priced,
    sumIf(llm_calls.cost_usd, NOT llm_calls.unpriced) AS cost_usd,
    sumIf(llm_calls.input_tokens, NOT llm_calls.unpriced) AS input_tokens,
    sumIf(llm_calls.output_tokens, NOT llm_calls.unpriced) AS output_tokens,
    sumIf(llm_calls.cache_read_tokens, NOT llm_calls.unpriced) AS cache_read_tokens,
    sumIf(llm_calls.cache_write_tokens, NOT llm_calls.unpriced) AS cache_write_tokens,
    sumIf(llm_calls.reasoning_tokens, NOT llm_calls.unpriced) AS reasoning_tokens
FROM llm_calls
GROUP BY bucket, tenant, route, environment, provider, model, tier, router, first, band, score_bin;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_by_band_1d_mv {on_cluster} TO llm_calls_by_band_1d AS
SELECT
    toStartOfDay(ts) AS bucket, tenant, route, environment, provider, model, tier, router,
    toUInt8(attempt = 0) AS first,
    multiIf(llm_calls.input_tokens < 1000, 0, llm_calls.input_tokens < 4000, 1, llm_calls.input_tokens < 16000, 2,
            llm_calls.input_tokens < 64000, 3, 4) AS band,
    multiIf(routing_score IS NULL, -1, NOT isFinite(routing_score) OR routing_score < 0 OR routing_score > 1, -2,
            toInt8(least(floor(if(isFinite(routing_score), routing_score, 0) * 20), 19))) AS score_bin,
    count() AS calls,
    countIf(final AND status = 'ok') AS accepted,
    countIf(NOT unpriced) AS priced,
    sumIf(llm_calls.cost_usd, NOT llm_calls.unpriced) AS cost_usd,
    sumIf(llm_calls.input_tokens, NOT llm_calls.unpriced) AS input_tokens,
    sumIf(llm_calls.output_tokens, NOT llm_calls.unpriced) AS output_tokens,
    sumIf(llm_calls.cache_read_tokens, NOT llm_calls.unpriced) AS cache_read_tokens,
    sumIf(llm_calls.cache_write_tokens, NOT llm_calls.unpriced) AS cache_write_tokens,
    sumIf(llm_calls.reasoning_tokens, NOT llm_calls.unpriced) AS reasoning_tokens
FROM llm_calls
GROUP BY bucket, tenant, route, environment, provider, model, tier, router, first, band, score_bin;
