"""Synthetic LLM call rows with known values, and ways to put them into ``llm_calls``.

``generate_calls`` builds logical requests (cascades of 1-3 attempts, failovers, unpriced calls, failed
requests) spread over a time range, deterministically from a seed; ``make_request`` builds one request
exactly as a test describes it. ``insert_calls`` writes rows straight into ``llm_calls`` so the
materialized views fill the rollups as in production. ``generate_in_engine`` makes millions of rows
inside ClickHouse (``INSERT … SELECT FROM numbers(N)``) for benchmarks.

Costs are the generator's own (``PRICE_PER_MTOK``), so tests can recompute every metric from the rows.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Any

# tier -> [(provider, model)]; the first model of a tier is its usual one
MODELS: dict[str, list[tuple[str, str]]] = {
    "small": [("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku-latest")],
    "mid": [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-0")],
    "frontier": [("anthropic", "claude-opus-4-1"), ("openai", "gpt-5")],
}
UNPRICED_MODEL = ("selfhost", "house-7b")  # tier small, no price
TIERS = ("small", "mid", "frontier")
# (input, output) USD per million tokens, per model: the generator's own prices
PRICE_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.6),
    "claude-3-5-haiku-latest": (0.8, 4.0),
    "gpt-4o": (2.5, 10.0),
    "claude-sonnet-4-0": (3.0, 15.0),
    "claude-opus-4-1": (15.0, 75.0),
    "gpt-5": (1.25, 10.0),
    "house-7b": (0.0, 0.0),
}
REASONS = ("verification_failed", "low_confidence", "refusal", "timeout", "policy")


@dataclass(frozen=True, slots=True)
class CallRow:
    """One ``llm_calls`` row (the columns tests care about; the rest take their defaults)."""

    ts: datetime
    span_id: int
    request_id: int
    attempt: int
    final: bool
    escalated: bool
    failover: bool
    escalation_reason: str
    tenant: str
    route: str
    environment: str
    provider: str
    model: str
    tier: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_usd: float
    unpriced: bool
    status: str
    duration_ms: float
    trace_id: bytes = field(default=b"\x00" * 16)
    service: str = "app"
    operation: str = "chat"
    request_model: str = ""
    error_type: str = ""
    finish_reason: str = "stop"
    price_source: str = "test"
    router: str = ""
    routing_reason: str = ""
    routing_score: float | None = None  # the router's score of the request (first attempts)


COLUMNS = tuple(f.name for f in fields(CallRow))


def cost_of(model: str, input_tokens: int, output_tokens: int) -> float:
    price_in, price_out = PRICE_PER_MTOK[model]
    return (input_tokens * price_in + output_tokens * price_out) / 1e6


def make_request(
    rng: random.Random,
    ts: datetime,
    attempts: Sequence[tuple[str, str, str]],
    *,
    tenant: str = "acme",
    route: str = "support.answer",
    environment: str = "prod",
    outcomes: Sequence[str] | None = None,
    answered: bool = True,
) -> list[CallRow]:
    """One logical request. ``attempts`` = [(tier, provider, model)]; ``outcomes`` per attempt but the
    last is ``escalate`` / ``failover`` (default: escalate when the next tier is higher, else failover).
    The last attempt answers unless ``answered`` is false (then it errored and nothing answered)."""
    request_id = rng.getrandbits(63) or 1
    trace_id = rng.getrandbits(128).to_bytes(16, "big")
    rows = []
    at = ts
    for index, (tier, provider, model) in enumerate(attempts):
        last = index == len(attempts) - 1
        if last:
            outcome = "answer" if answered else "fail"
        elif outcomes is not None:
            outcome = outcomes[index]
        else:
            outcome = "escalate" if TIERS.index(attempts[index + 1][0]) > TIERS.index(tier) else "failover"
        input_tokens, output_tokens = rng.randint(50, 4000), rng.randint(10, 800)
        unpriced = (provider, model) == UNPRICED_MODEL
        errored = outcome in ("failover", "fail")
        rows.append(
            CallRow(
                ts=at,
                span_id=request_id if index == 0 else (rng.getrandbits(63) or 1),
                request_id=request_id,
                attempt=index,
                final=outcome == "answer",
                escalated=outcome == "escalate",
                failover=outcome == "failover",
                escalation_reason=rng.choice(REASONS)
                if outcome == "escalate"
                else ("error" if outcome == "failover" else ""),
                tenant=tenant,
                route=route,
                environment=environment,
                provider=provider,
                model=model,
                tier=tier,
                input_tokens=input_tokens,
                output_tokens=0 if errored else output_tokens,
                cache_read_tokens=input_tokens // 4 if rng.random() < 0.3 else 0,
                cost_usd=0.0 if unpriced else cost_of(model, input_tokens, 0 if errored else output_tokens),
                unpriced=unpriced,
                status="error" if errored else "ok",
                duration_ms=float(rng.randint(100, 5000)),
                trace_id=trace_id,
                request_model=model,
                error_type="RateLimitError" if errored else "",
                finish_reason="" if errored else "stop",
            )
        )
        at = at + timedelta(milliseconds=rng.randint(200, 3000))
    return rows


@dataclass(frozen=True, slots=True)
class Scenario:
    """Knobs for ``generate_calls``; the defaults give a bit of everything."""

    requests: int = 400
    tenants: tuple[str, ...] = ("acme", "globex", "initech")
    routes: tuple[str, ...] = ("support.answer", "search.rerank", "summarize")
    environments: tuple[str, ...] = ("prod", "staging")
    first_tier_weights: tuple[float, float, float] = (0.7, 0.1, 0.2)  # small, mid, frontier
    escalate_p: float = 0.35  # each below-top attempt escalates with this probability
    failover_p: float = 0.06
    unpriced_p: float = 0.05  # a small attempt runs on the unpriced self-hosted model
    failed_p: float = 0.03  # the request ends without an answer


def generate_calls(
    start: datetime, end: datetime, *, seed: int = 0, scenario: Scenario = Scenario()
) -> list[CallRow]:
    """Requests with first attempts uniformly spread over ``[start, end)``; at most 3 attempts each."""
    rng = random.Random(seed)
    span_us = int((end - start).total_seconds() * 1e6)
    rows: list[CallRow] = []
    for _ in range(scenario.requests):
        ts = start + timedelta(microseconds=rng.randrange(span_us))
        tier_index = rng.choices(range(3), weights=scenario.first_tier_weights)[0]
        attempts: list[tuple[str, str, str]] = []
        outcomes: list[str] = []
        while len(attempts) < 3:
            tier = TIERS[tier_index]
            provider, model = rng.choice(MODELS[tier])
            if tier == "small" and rng.random() < scenario.unpriced_p:
                provider, model = UNPRICED_MODEL
            attempts.append((tier, provider, model))
            if len(attempts) == 3:
                break
            if rng.random() < scenario.failover_p:
                outcomes.append("failover")
            elif tier_index < 2 and rng.random() < scenario.escalate_p:
                outcomes.append("escalate")
                tier_index += 1
            else:
                break
        rows.extend(
            make_request(
                rng,
                ts,
                attempts,
                tenant=rng.choice(scenario.tenants),
                route=rng.choice(scenario.routes),
                environment=rng.choice(scenario.environments),
                outcomes=outcomes,
                answered=rng.random() >= scenario.failed_p,
            )
        )
    return rows


def shifted(rows: Iterable[CallRow], delta: timedelta) -> list[CallRow]:
    return [replace(row, ts=row.ts + delta) for row in rows]


def insert_calls(client: Any, rows: Sequence[CallRow], *, batch_rows: int = 50_000) -> None:
    """Insert rows into ``llm_calls`` (the rollup views fill themselves)."""
    for offset in range(0, len(rows), batch_rows):
        batch = [astuple(row) for row in rows[offset : offset + batch_rows]]
        client.insert("llm_calls", batch, column_names=list(COLUMNS))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


# In-engine generation for benchmarks: the same shape as ``generate_calls`` (tiers 70/10/20 % first,
# 35 % escalation per step, ~3 % unpriced small calls, a router score on each first attempt that rises
# with its first tier), made by ClickHouse itself so 50M rows take
# seconds of engine time instead of minutes of Python. Every value derives from cityHash64(request, seed).

# Request q's start, spread evenly over the range. Multiplied in Int128: q times the span in µs passes
# Int64's 9.2e18 from ~15M requests over 7 days (~21M calls), and the wrapped product put later
# requests at the wrong time, inside the range or outside it.
ENGINE_TS_SQL = (
    "fromUnixTimestamp64Micro(toInt64({start_us:Int64} + intDiv(toInt128(q) * {span_us:Int64}, "
    "{requests:UInt64}) + k * 1500000), 'UTC')"
)
_ENGINE_SQL = """
INSERT INTO llm_calls (ts, span_id, request_id, attempt, final, escalated, failover, escalation_reason,
    tenant, route, environment, service, provider, operation, request_model, model, tier, input_tokens,
    output_tokens, cache_read_tokens, cost_usd, unpriced, status, duration_ms, price_source, finish_reason,
    router, routing_score)
SELECT
    ENGINE_TS_SQL AS ts,
    if(k = 0, h, cityHash64(h, k)) AS span_id,
    h AS request_id,
    k AS attempt,
    k = len - 1 AS final,
    k < len - 1 AS escalated,
    false AS failover,
    if(k < len - 1,
       ['verification_failed', 'low_confidence', 'refusal', 'timeout', 'policy']
           [1 + bitShiftRight(h, 40) % 5],
       '')
        AS escalation_reason,
    concat('tenant-', toString(tenant_index)) AS tenant,
    concat('route-', toString(route_index)) AS route,
    -- one tenant in five also runs a staging environment
    if(tenant_index % 5 = 0 AND bitShiftRight(h, 44) % 4 = 0, 'staging', 'prod') AS environment,
    'app' AS service,
    -- a route sticks to one provider's family (one small, one mid, one frontier model)
    if(house, 'selfhost', ['openai', 'anthropic'][1 + route_index % 2]) AS provider,
    'chat' AS operation,
    model AS request_model,
    if(house, 'house-7b',
       [['gpt-4o-mini', 'claude-3-5-haiku-latest'], ['gpt-4o', 'claude-sonnet-4-0'],
        ['gpt-5', 'claude-opus-4-1']][tier_index][1 + route_index % 2]) AS model,
    ['small', 'mid', 'frontier'][tier_index] AS tier,
    toUInt32(50 + cityHash64(h, k, 1) % 4000) AS input_tokens,
    toUInt32(10 + cityHash64(h, k, 2) % 800) AS output_tokens,
    toUInt32(0) AS cache_read_tokens,
    if(house, 0,
       (input_tokens * [0.5, 2.75, 8.0][tier_index] + output_tokens * [2.0, 12.5, 40.0][tier_index]) / 1e6)
        AS cost_usd,
    house AS unpriced,
    'ok' AS status,
    toFloat32(100 + cityHash64(h, k, 3) % 5000) AS duration_ms,
    'bench' AS price_source,
    'stop' AS finish_reason,
    -- the first attempt carries a router's score that (noisily) explains its first tier
    if(k = 0, 'router/v1', '') AS router,
    if(k = 0, toFloat32((first_tier + (bitShiftRight(h, 24) % 1000) / 1000) / 3), NULL) AS routing_score
FROM
(
    SELECT
        number AS q,
        cityHash64(number, {seed:UInt64}) AS h,
        -- skewed: a few tenants send most traffic
        (bitShiftRight(h, 8) % 1000) * (bitShiftRight(h, 20) % 1000) % {tenants:UInt32} AS tenant_index,
        bitShiftRight(h, 32) % {routes:UInt32} AS route_index,
        multiIf(h % 100 < 70, 0, h % 100 < 80, 1, 2) AS first_tier,
        1 + (first_tier < 2 AND bitShiftRight(h, 56) % 100 < 35)
          + (first_tier = 0 AND bitShiftRight(h, 56) % 100 < 35 AND bitShiftRight(h, 4) % 100 < 35) AS len
    FROM numbers({first:UInt64}, {count:UInt64})
)
ARRAY JOIN range(len) AS k
SETTINGS max_insert_threads = 2
"""
ENGINE_CALLS_PER_REQUEST = 1.37  # average cascade length of the in-engine shape


def generate_in_engine(
    client: Any,
    calls: int,
    start: datetime,
    end: datetime,
    *,
    tenants: int = 50,
    routes: int = 12,
    seed: int = 1,
    chunk_requests: int = 2_000_000,
) -> int:
    """Insert about ``calls`` calls spread over ``[start, end)`` into ``llm_calls``; returns requests made."""
    requests = max(1, int(calls / ENGINE_CALLS_PER_REQUEST))
    start_us = int(start.timestamp() * 1_000_000)
    span_us = int((end - start).total_seconds() * 1_000_000) - 5_000_000  # room for the last cascade
    for first in range(0, requests, chunk_requests):
        sql = (
            _ENGINE_SQL.replace("ENGINE_TS_SQL", ENGINE_TS_SQL)
            .replace("tier_index", "(least(first_tier + k, 2) + 1)")
            .replace("house", "(least(first_tier + k, 2) = 0 AND bitShiftRight(h, 12) % 100 < 3)")
        )
        count = min(chunk_requests, requests - first)
        values = {"start_us": start_us, "span_us": span_us, "requests": requests, "tenants": tenants}
        values.update(routes=routes, seed=seed, first=first, count=count)
        client.command(sql, parameters=values)
    return requests
