"""Executing one replay run: plan, send, judge, store; capped, rate-limited, resumable.

- **Plan**: the run's sample is fixed by its seed and creation time (``store.plan_captures``), so a
  resumed run works through the same list; samples already in ``replay_samples`` are never sent or
  judged again, and the spend so far is recounted from them.
- **Cost cap**: before a sample is sent, its cost is reserved — the most any sample of this run has cost
  so far (the first sample runs alone to learn it) — and a sample whose reservation would take spend +
  reservations past ``max_cost_usd`` is not sent: the run stops ``capped`` within one sample of the cap.
  A candidate or judge model without a price cannot be capped, so the run refuses to start.
- **Concurrency and rate**: at most ``concurrency`` samples in flight; with ``rate_per_s``, sample starts
  are paced. Retries (``candidates.with_retries``) are counted per sample and by reason.
- **Stop**: a cancel or a server shutdown stops launching at once and lets samples in flight finish
  (they are stored: nothing paid for is lost); a shutdown leaves the run ``interrupted``, and the
  service resumes it at the next start (``service.py``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tiermix_server.replay import store
from tiermix_server.replay.candidates import Completion, Failed, complete, make_client, with_retries
from tiermix_server.replay.judges import Judges
from tiermix_server.replay.shadow import ShadowRecorder
from tiermix_server.replay.spec import JudgeSpec, ModelRef, ReplaySpec

log = logging.getLogger("tiermix.replay")
CONTENT_CHUNK = 100  # captured contents read per query
PROGRESS_EVERY_S = 0.5


class RunRefused(Exception):
    """The run cannot start (no price for the candidate, no candidate tier below production)."""


@dataclass(slots=True)
class Context:
    """What an executor needs from the server: storage, prices, the tier map, keys and the recorder."""

    client: Any
    meta: Any
    quote: Callable[[datetime, str, str, str], Any]
    tier_of: Callable[[str, str], str]  # (provider, model) -> tier
    tier_names: tuple[str, ...]  # bottom ... top
    keys: dict[str, str | None]  # model label -> API key for it (None: none)
    recorder: ShadowRecorder | None
    python_judges: frozenset[str]
    ttl_days: int
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True)
class Sample:
    plan: tuple[Any, ...]
    request: dict[str, Any]
    production: str


def price_of(ctx: Context, tenant: str, ref: ModelRef) -> Any:
    quote = ctx.quote(datetime.now(timezone.utc), tenant, ref.provider, ref.model)
    if quote.unpriced or quote.table is None:
        raise RunRefused(
            f"{ref.label} has no price, so the cost cap cannot hold: add one (tiermix prices add …) first"
        )
    return quote


def call_cost(quote: Any, completion: Completion) -> float:
    return float(quote.table.cost(completion.input_tokens, completion.output_tokens, 0, 0, 0) * quote.factor)


class RunExecutor:
    def __init__(self, ctx: Context, run: store.RunRow, spec: ReplaySpec) -> None:
        self.ctx = ctx
        self.run = run
        self.spec = spec
        self.retry_reasons: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pending_rows: list[tuple[Any, ...]] = []
        self._max_sample_cost = 0.0
        self._next_start = 0.0
        self._spent = 0.0
        self._cancelled = False
        self._local = threading.local()
        self._candidate_tier_name = ""

    # -- the run -------------------------------------------------------------------------------------
    def execute(self) -> str:
        """Run to the end (or the cap, a cancel, a shutdown); returns the final status."""
        ctx, spec, run = self.ctx, self.spec, self.run
        try:
            candidate_tier = self._candidate_tier()
            self._quotes = {spec.candidate.label: price_of(ctx, run.tenant, spec.candidate)}
            for judge in spec.judges:
                if judge.kind == "llm" and judge.model is not None:
                    self._quotes[judge.model.label] = price_of(ctx, run.tenant, judge.model)
            self._judges = Judges(spec.judges, spec.judge_mode, self._judge_call, ctx.python_judges)
            self._clients = {spec.candidate.label: self._client(spec.candidate)}
            for judge in spec.judges:
                if judge.kind == "llm" and judge.model is not None:
                    self._clients[judge.model.label] = self._client(judge.model)
            above = list(ctx.tier_names[ctx.tier_names.index(candidate_tier) + 1 :])
            plan = store.plan_captures(
                ctx.client,
                run.tenant,
                run.route,
                above,
                run.created_at,
                spec.window_days,
                spec.sample,
                spec.seed,
            )
        except Exception as exc:
            return self._finish(
                "failed", f"{exc}" if isinstance(exc, RunRefused) else f"{type(exc).__name__}: {exc}"
            )
        self._candidate_tier_name = candidate_tier
        done = store.judged_span_ids(ctx.client, run.id)
        progress = store.progress_from_samples(ctx.client, run.id)
        store.update_run(ctx.meta, run.id, status="running", planned=len(plan), error="", **progress)
        if not plan:
            return self._finish(
                "failed",
                f"no captured calls of route {run.route!r} on a tier above {candidate_tier} "
                "(is a capture policy set for it? tiermix capture set)",
            )
        self._spent = progress["spent_usd"]
        self._max_sample_cost = self._previous_max_cost()
        todo = [item for item in plan if int(item[0]) not in done]
        status = self._work(todo)
        return self._finish(status, "")

    def _work(self, todo: list[tuple[Any, ...]]) -> str:
        spec, ctx = self.spec, self.ctx
        in_flight: dict[Future[tuple[Any, ...] | None], float] = {}
        status = "done"
        last_progress = 0.0
        with ThreadPoolExecutor(spec.concurrency, thread_name_prefix=f"tiermix-replay-{self.run.id}") as pool:
            for start in range(0, len(todo), CONTENT_CHUNK):
                chunk = todo[start : start + CONTENT_CHUNK]
                contents = store.capture_contents(ctx.client, self.run.tenant, [int(p[0]) for p in chunk])
                for item in chunk:
                    if ctx.stop.is_set():
                        status = "stopped"
                        break
                    content = contents.get(int(item[0]))
                    if content is None:
                        continue  # expired since the plan was made
                    # calibrate on one sample, then fill up to the concurrency
                    limit = 1 if self._max_sample_cost == 0.0 else spec.concurrency
                    while len(in_flight) >= limit:
                        self._collect(in_flight, block=True)
                        limit = 1 if self._max_sample_cost == 0.0 else spec.concurrency
                    reserve = self._max_sample_cost
                    if self._spent + sum(in_flight.values()) + reserve > spec.max_cost_usd:
                        status = "capped"
                        break
                    self._pace()
                    sample = Sample(item, json.loads(content[0]), content[1])
                    in_flight[pool.submit(self._one, sample)] = reserve
                    if time.monotonic() - last_progress >= PROGRESS_EVERY_S:
                        self._collect(in_flight, block=False)
                        last_progress = time.monotonic()
                if status != "done":
                    break
            while in_flight:
                self._collect(in_flight, block=True)
        self._flush()
        if status == "stopped":
            return "cancelled" if self._cancelled else "interrupted"
        return status

    def cancel(self) -> None:
        self._cancelled = True
        self.ctx.stop.set()

    def _collect(self, in_flight: dict[Future[tuple[Any, ...] | None], float], *, block: bool) -> None:
        if not in_flight:
            return
        finished, _ = wait(list(in_flight), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in finished:
            in_flight.pop(future)
            row = future.result()
            if row is None:
                continue
            cost = (
                row[store.SAMPLE_COLUMNS.index("candidate_cost_usd")]
                + row[store.SAMPLE_COLUMNS.index("judge_cost_usd")]
            )
            self._spent += cost
            self._max_sample_cost = max(self._max_sample_cost, cost)
            self._pending_rows.append(row)
        self._flush()

    def _flush(self) -> None:
        rows, self._pending_rows = self._pending_rows, []
        if not rows:
            return
        store.insert_samples(self.ctx.client, rows)
        progress = store.progress_from_samples(self.ctx.client, self.run.id)
        store.update_run(self.ctx.meta, self.run.id, **progress)

    def _pace(self) -> None:
        if not self.spec.rate_per_s:
            return
        now = time.monotonic()
        if self._next_start > now:
            time.sleep(self._next_start - now)
        self._next_start = max(now, self._next_start) + 1.0 / self.spec.rate_per_s

    def _finish(self, status: str, error: str) -> str:
        from tiermix_server.replay.results import run_result

        result: dict[str, Any] = {}
        try:
            result = run_result(self.ctx, self.run, self.spec, dict(self.retry_reasons))
        except Exception:
            log.exception("replay run %s: the result could not be computed", self.run.id)
        store.update_run(self.ctx.meta, self.run.id, status=status, error=error, result=result)
        return status

    # -- one sample ----------------------------------------------------------------------------------
    def _one(self, sample: Sample) -> tuple[Any, ...] | None:
        """Send, judge and describe one sample as a ``replay_samples`` row; never raises. None: cut short
        by a stop (not stored, so a resumed run sends it again)."""
        spec, run = self.spec, self.run
        retries = [0]

        def on_retry(reason: str) -> None:
            retries[0] += 1
            with self._lock:
                self.retry_reasons[reason] += 1

        candidate: Completion | None = None
        candidate_cost = judge_cost = 0.0
        verdict, error = -1, ""
        reasons: list[str] = []
        try:
            candidate = self._call(
                spec.candidate, sample.request["messages"], sample.request.get("params", {}), on_retry
            )
            candidate_cost = call_cost(self._quotes[spec.candidate.label], candidate)
            self._record("candidate", spec.candidate, candidate, candidate_cost)
            self._local.on_retry = on_retry  # the LLM judge's calls count their retries on this sample
            passed, reasons, judge_cost = self._judges.judge(
                candidate.text, sample.production, sample.request
            )
            verdict = -1 if passed is None else int(passed)
        except Failed as exc:
            if self.ctx.stop.is_set():
                return None
            error = str(exc)[:500]
        except Exception as exc:  # a judge hook or a client library bug must not stop the run
            log.exception("replay run %s: a sample failed", run.id)
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
        plan = sample.plan
        (span_id, ts, expires_at, model, tier, first, router, score, duration_ms, input_tokens, output_tokens,
         cost_usd, _unpriced) = plan  # fmt: skip
        return (
            run.id, run.tenant, run.route, int(span_id), ts, expires_at, model, tier, spec.candidate.provider,
            spec.candidate.model,
            self._candidate_tier_name, bool(first), router, score, int(input_tokens), float(duration_ms),
            int(output_tokens), float(cost_usd), candidate.text if candidate else "",
            candidate.ms if candidate else 0.0, candidate.input_tokens if candidate else 0,
            candidate.output_tokens if candidate else 0, candidate_cost, judge_cost, verdict,
            json.dumps(reasons, ensure_ascii=False), retries[0], error,
        )  # fmt: skip

    def _judge_call(self, judge: JudgeSpec, messages: list[dict[str, str]]) -> tuple[Completion, float]:
        assert judge.model is not None
        on_retry = getattr(self._local, "on_retry", lambda _reason: None)
        completion = self._call(judge.model, messages, {"temperature": 0, "max_tokens": 300}, on_retry)
        cost = call_cost(self._quotes[judge.model.label], completion)
        self._record("judge", judge.model, completion, cost)
        return completion, cost

    def _call(
        self,
        ref: ModelRef,
        messages: list[dict[str, str]],
        params: dict[str, Any],
        on_retry: Callable[[str], None],
    ) -> Completion:
        client = self._clients[ref.label]
        return with_retries(
            lambda: complete(client, ref, messages, params),
            self.spec.max_retries,
            on_retry,
            self.ctx.stop.is_set,
        )

    def _record(self, role: str, ref: ModelRef, completion: Completion, cost: float) -> None:
        if self.ctx.recorder is not None:
            try:
                self.ctx.recorder.record(
                    self.run.tenant, self.run.route, self.run.id, role, ref, completion, cost
                )
            except Exception:
                log.exception("replay run %s: a call could not be recorded", self.run.id)

    # -- helpers -------------------------------------------------------------------------------------
    def _client(self, ref: ModelRef) -> Any:
        return make_client(ref, self.ctx.keys.get(ref.label), self.spec.timeout_s)

    def _candidate_tier(self) -> str:
        names = self.ctx.tier_names
        tier = self.ctx.tier_of(self.spec.candidate.provider, self.spec.candidate.model)
        if tier not in names:
            raise RunRefused(f"{self.spec.candidate.label} has no tier in the tier map")
        if tier == names[-1]:
            raise RunRefused(f"{self.spec.candidate.label} is on the top tier ({tier}): nothing is above it")
        return tier

    def _previous_max_cost(self) -> float:
        result = self.ctx.client.query(
            "SELECT max(candidate_cost_usd + judge_cost_usd) FROM replay_samples WHERE run_id = {run:UInt64}",
            parameters={"run": self.run.id},
        )
        value = result.result_rows[0][0] if result.result_rows else None
        return float(value or 0.0)
