"""A replay run's result: what share the candidate can serve, what moving it would save, at what speed.

Every figure is read from the run's samples (``replay_samples``) and the route's real traffic:

- **servable share**: servable / judged, with a 95% Wilson interval (samples without a verdict — the
  candidate or a judge failed for good — are counted apart and left out of the share);
- **monthly savings** (estimates, with low / high from the interval), from the route's last 30 days of
  the population the sample was drawn from (final, successful calls on a tier above the candidate's):
  N requests costing C, and the candidate's mean cost per replayed request c:
  - ``moved``: a router sends exactly the servable share p to the candidate: p x (C - N x c);
  - ``cascade``: every request tries the candidate first and the ones it cannot serve go on as today:
    p x C - N x c (it pays the candidate for every request);
  both scaled to 30 days from the span the traffic covers, at least one day, as the Opportunities view
  scales (``metrics.opportunities.per_month``);
- **latency** p50 / p95 and **output tokens** of candidate and production on the same requests;
- **replay cost**: candidate and judge calls (also in ``environment=shadow``), and retries by reason.

The verdicts also feed right-sizing: ``metrics/replay_evidence.py`` (opportunities, the what-if's
RouteLLM metrics).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tiermix_server.metrics.filters import SHADOW_ENVIRONMENT
from tiermix_server.metrics.opportunities import MONTH, per_month
from tiermix_server.metrics.wilson import wilson
from tiermix_server.replay import store
from tiermix_server.replay.spec import ReplaySpec


def run_result(ctx: Any, run: Any, spec: ReplaySpec, retry_reasons: dict[str, int]) -> dict[str, Any]:
    client = ctx.client
    row = client.query(
        "SELECT countIf(verdict >= 0), countIf(verdict = 1), countIf(verdict < 0), "
        "sum(candidate_cost_usd), sum(judge_cost_usd), sum(retries), "
        "quantilesExactIf(0.5, 0.95)(candidate_ms, error = ''), "
        "quantilesExactIf(0.5, 0.95)(production_ms, error = ''), "
        "avgIf(candidate_output_tokens, error = ''), avgIf(production_output_tokens, error = ''), "
        "avgIf(candidate_cost_usd, error = ''), avgIf(production_cost_usd, error = ''), any(candidate_tier) "
        "FROM replay_samples FINAL WHERE run_id = {run:UInt64}",
        parameters={"run": run.id},
    ).result_rows[0]
    (judged, servable, no_verdict, candidate_usd, judge_usd, retries, cand_q, prod_q, cand_out, prod_out,
     cand_mean_cost, prod_mean_cost, candidate_tier) = row  # fmt: skip
    interval = wilson(int(servable), int(judged))
    result: dict[str, Any] = {
        "candidate": spec.candidate.label,
        "candidate_tier": candidate_tier or None,
        "servable": {
            "share": interval.share,
            "low": interval.low if judged else None,
            "high": interval.high if judged else None,
            "servable": int(servable),
            "judged": int(judged),
            "no_verdict": int(no_verdict),
        },
        "latency_ms": {
            "candidate_p50": _q(cand_q, 0),
            "candidate_p95": _q(cand_q, 1),
            "production_p50": _q(prod_q, 0),
            "production_p95": _q(prod_q, 1),
        },
        "output_tokens": {"candidate_mean": _f(cand_out), "production_mean": _f(prod_out)},
        "cost_per_request_usd": {"candidate": _f(cand_mean_cost), "production": _f(prod_mean_cost)},
        "replay_cost_usd": {
            "candidate": store.usd(candidate_usd),
            "judge": store.usd(judge_usd),
            "total": store.usd((candidate_usd or 0.0) + (judge_usd or 0.0)),
            "cap": spec.max_cost_usd,
        },
        "retries": {"total": int(retries or 0), "by_reason": dict(sorted(retry_reasons.items()))},
    }
    if candidate_tier and judged:
        result["monthly_savings_usd"] = _savings(
            ctx, run, candidate_tier, interval, _f(cand_mean_cost) or 0.0
        )
    return result


def _savings(ctx: Any, run: Any, candidate_tier: str, interval: Any, candidate_cost: float) -> dict[str, Any]:
    names = ctx.tier_names
    above = list(names[names.index(candidate_tier) + 1 :]) if candidate_tier in names else []
    now = datetime.now(timezone.utc)
    start = now - MONTH
    row = ctx.client.query(
        "SELECT count(), countIf(NOT unpriced), sumIf(cost_usd, NOT unpriced), min(ts) FROM llm_calls "
        "WHERE tenant = {tenant:String} AND route = {route:String} AND ts >= {start:DateTime64(6, 'UTC')} "
        "AND environment != {shadow:String} AND final AND status = 'ok' AND tier IN {tiers:Array(String)}",
        parameters={
            "tenant": run.tenant,
            "route": run.route,
            "start": start,
            "shadow": SHADOW_ENVIRONMENT,
            "tiers": above,
        },
    ).result_rows[0]
    requests, priced, cost, first = int(row[0]), int(row[1]), float(row[2] or 0.0), row[3]
    observed = now - max(start, _aware(first)) if requests else timedelta(0)
    factor = per_month(observed)
    n, c = priced * factor, cost * factor

    def moved(p: float) -> float:
        return p * (c - n * candidate_cost)

    def cascade(p: float) -> float:
        return p * c - n * candidate_cost

    share = interval.share or 0.0
    return {
        "estimate": True,
        "basis": "the route's last 30 days, scaled to 30 days from the span its traffic covers (>= 1 day)",
        "observed_days": observed / timedelta(days=1),
        "month_factor": factor,
        "requests_per_month": n,
        "unpriced_requests": requests - priced,
        "production_cost_per_month": c,
        "moved": {"point": moved(share), "low": moved(interval.low), "high": moved(interval.high)},
        "cascade": {"point": cascade(share), "low": cascade(interval.low), "high": cascade(interval.high)},
    }


def _q(values: Any, index: int) -> float | None:
    return float(values[index]) if values and len(values) > index and values[index] == values[index] else None


def _f(value: Any) -> float | None:
    return float(value) if value is not None and value == value else None


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)
