"""Where replay runs live: the run (spec, status, progress) in the metadata DB, samples in ClickHouse.

Samples hold content (the candidate's answer) and so live next to the captures, with the same TTL
(migration 0006). A run's progress counters are a cache of its samples: on resume they are recounted
from ``replay_samples``, which is the truth (``progress_from_samples``).
"""

# ruff: noqa: S608 - the SQL here is fixed text; every value is a server-side parameter.

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from tiermix_server.errors import NotFound
from tiermix_server.meta.db import MetaDB
from tiermix_server.meta.models import ReplayRun, utcnow

ACTIVE = ("queued", "running")
STOPPED = ("done", "capped", "cancelled", "failed", "interrupted")
SAMPLE_COLUMNS = (
    "run_id",
    "tenant",
    "route",
    "span_id",
    "ts",
    "expires_at",
    "production_model",
    "production_tier",
    "candidate_provider",
    "candidate_model",
    "candidate_tier",
    "first_attempt",
    "router",
    "routing_score",
    "input_tokens",
    "production_ms",
    "production_output_tokens",
    "production_cost_usd",
    "candidate_answer",
    "candidate_ms",
    "candidate_input_tokens",
    "candidate_output_tokens",
    "candidate_cost_usd",
    "judge_cost_usd",
    "verdict",
    "reasons",
    "retries",
    "error",
)


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    tenant: str
    route: str
    spec: dict[str, Any]
    status: str
    planned: int
    judged: int
    servable: int
    errors: int
    retries: int
    spent_usd: float
    error: str
    result: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _row(run: ReplayRun) -> RunRow:
    return RunRow(
        run.id, run.tenant, run.route, dict(run.spec), run.status, run.planned, run.judged, run.servable,
        run.errors, run.retries, run.spent_usd, run.error, dict(run.result or {}), run.created_at,
        run.started_at, run.finished_at,
    )  # fmt: skip


def create_run(meta: MetaDB, tenant: str, route: str, spec: dict[str, Any]) -> RunRow:
    with meta.session() as session:
        run = ReplayRun(tenant=tenant, route=route, spec=spec, status="queued", result={}, error="")
        session.add(run)
        session.flush()
        return _row(run)


def get_run(meta: MetaDB, run_id: int, tenant: str | None = None) -> RunRow:
    """The run; NotFound also when it belongs to another tenant than a tenant-bound caller's."""
    with meta.session() as session:
        run = session.get(ReplayRun, run_id)
        if run is None or (tenant is not None and run.tenant != tenant):
            raise NotFound(f"no replay run {run_id}")
        return _row(run)


def list_runs(
    meta: MetaDB, tenant: str | None = None, route: str | None = None, limit: int = 100
) -> list[RunRow]:
    with meta.session() as session:
        query = select(ReplayRun).order_by(ReplayRun.id.desc()).limit(limit)
        if tenant is not None:
            query = query.where(ReplayRun.tenant == tenant)
        if route is not None:
            query = query.where(ReplayRun.route == route)
        return [_row(run) for run in session.scalars(query)]


def runs_with_status(meta: MetaDB, statuses: tuple[str, ...]) -> list[RunRow]:
    with meta.session() as session:
        query = select(ReplayRun).where(ReplayRun.status.in_(statuses)).order_by(ReplayRun.id)
        return [_row(run) for run in session.scalars(query)]


def update_run(meta: MetaDB, run_id: int, **fields: Any) -> RunRow:
    with meta.session() as session:
        run = session.get(ReplayRun, run_id)
        if run is None:
            raise NotFound(f"no replay run {run_id}")
        for name, value in fields.items():
            setattr(run, name, value)
        if fields.get("status") == "running" and run.started_at is None:
            run.started_at = utcnow()
        if fields.get("status") in STOPPED:
            run.finished_at = utcnow()
        return _row(run)


# ---- samples (ClickHouse) ---------------------------------------------------------------------------


def insert_samples(client: Any, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        data = [list(column) for column in zip(*rows, strict=True)]
        client.insert(
            "replay_samples", data, column_names=list(SAMPLE_COLUMNS), column_oriented=True,
            settings={"async_insert": 0},
        )  # fmt: skip


def judged_span_ids(client: Any, run_id: int) -> set[int]:
    """Samples of the run judged already (a verdict or a final error): never sent again on resume."""
    result = client.query(
        "SELECT DISTINCT span_id FROM replay_samples WHERE run_id = {run:UInt64}", parameters={"run": run_id}
    )
    return {int(row[0]) for row in result.result_rows}


# A sum of the samples' Float64 costs differs in its last bits with the order ClickHouse adds them in,
# which changes as parts merge between two queries: a run's money is reported to 1e-12 USD, so its
# progress and its result state the same figure.
USD_DIGITS = 12


def usd(value: Any) -> float:
    return round(float(value or 0.0), USD_DIGITS)


def progress_from_samples(client: Any, run_id: int) -> dict[str, Any]:
    result = client.query(
        "SELECT count(), countIf(verdict = 1), countIf(verdict < 0), sum(retries), "
        "sum(candidate_cost_usd + judge_cost_usd) FROM replay_samples FINAL WHERE run_id = {run:UInt64}",
        parameters={"run": run_id},
    )
    total, servable, errors, retries, spent = result.result_rows[0]
    return {
        "judged": int(total) - int(errors),
        "servable": int(servable),
        "errors": int(errors),
        "retries": int(retries or 0),
        "spent_usd": usd(spent),
    }


def plan_captures(
    client: Any, tenant: str, route: str, tiers: list[str], before: datetime, window_days: int | None,
    sample: int, seed: int,
) -> list[tuple[Any, ...]]:  # fmt: skip
    """The run's sample: captured final, successful calls of the route on ``tiers``, in a random order
    fixed by ``seed`` and the run's creation time (the same list on every resume)."""
    since = before - timedelta(days=window_days) if window_days else datetime(1970, 1, 1, tzinfo=timezone.utc)
    result = client.query(
        "SELECT span_id, ts, expires_at, model, tier, attempt = 0, router, routing_score, duration_ms, "
        "input_tokens, output_tokens, cost_usd, unpriced FROM replay_captures FINAL "
        "WHERE tenant = {tenant:String} AND route = {route:String} AND expires_at > now() "
        "AND ts >= {since:DateTime64(6, 'UTC')} AND ts < {before:DateTime64(6, 'UTC')} "
        "AND tier IN {tiers:Array(String)} AND final AND status = 'ok' "
        "ORDER BY cityHash64(span_id, {seed:UInt64}) LIMIT {n:UInt32}",
        parameters={
            "tenant": tenant, "route": route, "since": since, "before": before, "tiers": tiers, "seed": seed,
            "n": sample,
        },
    )  # fmt: skip
    return list(result.result_rows)


def capture_contents(client: Any, tenant: str, span_ids: list[int]) -> dict[int, tuple[str, str]]:
    """(request JSON, production answer) of each captured call still within its TTL."""
    if not span_ids:
        return {}
    result = client.query(
        "SELECT span_id, request, response FROM replay_captures FINAL WHERE tenant = {tenant:String} "
        "AND span_id IN {ids:Array(UInt64)} AND expires_at > now()",
        parameters={"tenant": tenant, "ids": span_ids},
    )
    return {int(span_id): (request, response) for span_id, request, response in result.result_rows}


def read_samples(
    client: Any, run_id: int, limit: int, offset: int, verdict: int | None = None
) -> list[dict[str, Any]]:
    where = "run_id = {run:UInt64} AND expires_at > now()"
    parameters: dict[str, Any] = {"run": run_id, "limit": limit, "offset": offset}
    if verdict is not None:
        where += " AND verdict = {verdict:Int8}"
        parameters["verdict"] = verdict
    result = client.query(
        "SELECT s.span_id, s.ts, s.production_model, s.production_tier, s.candidate_model, s.routing_score, "
        "s.input_tokens, s.production_ms, s.production_output_tokens, s.production_cost_usd, s.candidate_ms, "
        "s.candidate_output_tokens, s.candidate_cost_usd, s.judge_cost_usd, s.verdict, s.reasons, s.retries, "
        "s.error, s.candidate_answer, c.request, c.response "
        f"FROM (SELECT * FROM replay_samples FINAL WHERE {where}) AS s "
        "LEFT JOIN (SELECT tenant, span_id, request, response FROM replay_captures FINAL "
        "WHERE expires_at > now()) AS c ON c.tenant = s.tenant AND c.span_id = s.span_id "
        "ORDER BY s.ts, s.span_id LIMIT {limit:UInt32} OFFSET {offset:UInt32}",
        parameters=parameters,
    )
    names = (
        "span_id", "ts", "production_model", "production_tier", "candidate_model", "routing_score",
        "input_tokens", "production_ms", "production_output_tokens", "production_cost_usd", "candidate_ms",
        "candidate_output_tokens", "candidate_cost_usd", "judge_cost_usd", "verdict", "reasons", "retries",
        "error", "candidate_answer", "request", "production_answer",
    )  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in result.result_rows]
