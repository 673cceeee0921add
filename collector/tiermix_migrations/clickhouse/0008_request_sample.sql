-- A fixed 1-in-64 sample of logical requests, per minute: every attempt of a sampled request (chosen by
-- request_id % 64 = 0, so a cascade is sampled whole), summed per request. Per-request cost percentiles
-- over a large scope read this (about 1/64 of the requests) instead of grouping the raw calls by
-- request_id (metrics/cost.py); the API reports the rate, so the figure is never passed off as exact.
-- Per minute costs no more rows than per hour (a request's attempts are seconds apart) and spares a
-- range's partial hours a raw scan. A request whose attempts straddle a minute has a row in each;
-- queries sum by request_id.
-- Mirrors metrics/sources.py REQUEST_SAMPLE; re-pricing keeps it in step like every summing rollup.
CREATE TABLE IF NOT EXISTS llm_request_sample_1m {on_cluster}
(
    bucket      DateTime('UTC'),
    tenant      LowCardinality(String),
    route       LowCardinality(String),
    environment LowCardinality(String),
    request_id  UInt64,
    calls       UInt64,
    cost_usd    Float64
)
ENGINE = {replicated}SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (tenant, route, bucket, environment, request_id)
TTL bucket + INTERVAL {raw_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

-- The requests stored before this migration, then the view for every call after it (a collector runs its
-- migrations before it accepts traffic, so nothing is stored in between).
INSERT INTO llm_request_sample_1m
SELECT toStartOfMinute(ts) AS bucket, tenant, route, environment, request_id,
       count() AS calls, sum(llm_calls.cost_usd) AS cost_usd
FROM llm_calls
WHERE request_id % 64 = 0
GROUP BY bucket, tenant, route, environment, request_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_request_sample_1m_mv {on_cluster} TO llm_request_sample_1m AS
SELECT toStartOfMinute(ts) AS bucket, tenant, route, environment, request_id,
       count() AS calls, sum(llm_calls.cost_usd) AS cost_usd
FROM llm_calls
WHERE request_id % 64 = 0
GROUP BY bucket, tenant, route, environment, request_id;
