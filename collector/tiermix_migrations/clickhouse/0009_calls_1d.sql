-- Per-day counters, the same as llm_calls_1h: a range of weeks or months reads whole days here, the partial
-- days at its ends from the hourly rollup (metrics/sources.py plans the segments). At 209M calls over 90
-- days the hourly rollup held 5.9M rows and the 90-day summary read them all (p95 422 ms; docs/performance.md).
-- Mirrors metrics/sources.py CALLS.
--
-- Fed from llm_calls_1h, not from llm_calls: its view sums the hourly block each insert writes (a few
-- hundred groups per batch) instead of aggregating every call once more, so ingest pays little for it.
-- Every write to llm_calls_1h reaches it the same way: the collector's inserts (the block dedup token
-- carries through dependent views), re-pricing's difference rows, a replayed spool batch.
CREATE TABLE IF NOT EXISTS llm_calls_1d {on_cluster} AS llm_calls_1m
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant, route, bucket, environment, provider, model, tier)
TTL bucket + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

-- The days stored before this migration, then the view for every hourly block after it (a collector runs
-- its migrations before it accepts traffic, so nothing is written in between).
INSERT INTO llm_calls_1d
SELECT
    toStartOfDay(llm_calls_1h.bucket) AS bucket, tenant, route, environment, provider, model, tier,
    sum(llm_calls_1h.calls) AS calls,
    sum(llm_calls_1h.requests) AS requests,
    sum(llm_calls_1h.answered) AS answered,
    sum(llm_calls_1h.escalations) AS escalations,
    sum(llm_calls_1h.failovers) AS failovers,
    sum(llm_calls_1h.errors) AS errors,
    sum(llm_calls_1h.unpriced) AS unpriced,
    sum(llm_calls_1h.input_tokens) AS input_tokens,
    sum(llm_calls_1h.output_tokens) AS output_tokens,
    sum(llm_calls_1h.cache_read_tokens) AS cache_read_tokens,
    sum(llm_calls_1h.cache_write_tokens) AS cache_write_tokens,
    sum(llm_calls_1h.reasoning_tokens) AS reasoning_tokens,
    sum(llm_calls_1h.cost_usd) AS cost_usd,
    sum(llm_calls_1h.escalated_cost_usd) AS escalated_cost_usd,
    sum(llm_calls_1h.duration_ms_sum) AS duration_ms_sum,
    sum(llm_calls_1h.final_input_tokens) AS final_input_tokens,
    sum(llm_calls_1h.final_output_tokens) AS final_output_tokens,
    sum(llm_calls_1h.final_cache_read_tokens) AS final_cache_read_tokens,
    sum(llm_calls_1h.escalated_first) AS escalated_first
FROM llm_calls_1h
GROUP BY bucket, tenant, route, environment, provider, model, tier;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_1d_mv {on_cluster} TO llm_calls_1d AS
SELECT
    toStartOfDay(llm_calls_1h.bucket) AS bucket, tenant, route, environment, provider, model, tier,
    sum(llm_calls_1h.calls) AS calls,
    sum(llm_calls_1h.requests) AS requests,
    sum(llm_calls_1h.answered) AS answered,
    sum(llm_calls_1h.escalations) AS escalations,
    sum(llm_calls_1h.failovers) AS failovers,
    sum(llm_calls_1h.errors) AS errors,
    sum(llm_calls_1h.unpriced) AS unpriced,
    sum(llm_calls_1h.input_tokens) AS input_tokens,
    sum(llm_calls_1h.output_tokens) AS output_tokens,
    sum(llm_calls_1h.cache_read_tokens) AS cache_read_tokens,
    sum(llm_calls_1h.cache_write_tokens) AS cache_write_tokens,
    sum(llm_calls_1h.reasoning_tokens) AS reasoning_tokens,
    sum(llm_calls_1h.cost_usd) AS cost_usd,
    sum(llm_calls_1h.escalated_cost_usd) AS escalated_cost_usd,
    sum(llm_calls_1h.duration_ms_sum) AS duration_ms_sum,
    sum(llm_calls_1h.final_input_tokens) AS final_input_tokens,
    sum(llm_calls_1h.final_output_tokens) AS final_output_tokens,
    sum(llm_calls_1h.final_cache_read_tokens) AS final_cache_read_tokens,
    sum(llm_calls_1h.escalated_first) AS escalated_first
FROM llm_calls_1h
GROUP BY bucket, tenant, route, environment, provider, model, tier;
