"""Replay runs inside the server: started by the API, one thread each, resumed after a restart.

At start the service takes up every run left ``queued``, ``running`` (the process died) or
``interrupted`` (it was shut down), unless the run was given an API key with the request — keys are
never stored — in which case it waits for ``POST /api/v1/replays/{id}/resume`` with the key again.
Each run holds a lease in the metadata DB (``replay-run:<id>``), so two servers sharing the databases
never execute one run twice. Shutdown stops every run from launching more samples, lets the samples
in flight finish and be stored, and leaves the runs ``interrupted``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from dataclasses import replace
from typing import Any

from tiermix_server.errors import Conflict
from tiermix_server.meta.lease import Lease
from tiermix_server.replay import store
from tiermix_server.replay.candidates import server_key_name
from tiermix_server.replay.runs import Context, RunExecutor
from tiermix_server.replay.shadow import ShadowRecorder
from tiermix_server.replay.spec import ModelRef, ReplaySpec, spec_from_json

log = logging.getLogger("tiermix.replay")
LEASE_TTL_S = 60.0
RESUMABLE = ("queued", "running", "interrupted")


def models_of(spec: ReplaySpec) -> list[ModelRef]:
    return [spec.candidate, *(j.model for j in spec.judges if j.kind == "llm" and j.model is not None)]


def server_keys(spec: ReplaySpec) -> dict[str, str | None]:
    """Keys from the server's environment, for models on their provider's own API only."""
    keys: dict[str, str | None] = {}
    for ref in models_of(spec):
        name = server_key_name(ref)
        keys[ref.label] = os.environ.get(name) if name else None
    return keys


class ReplayService:
    def __init__(self, runtime: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.runtime = runtime
        self.recorder = ShadowRecorder(runtime, loop)
        self._lock = threading.Lock()
        self._running: dict[int, tuple[RunExecutor, threading.Thread]] = {}
        self._closing = False

    # -- API -----------------------------------------------------------------------------------------
    def submit(self, spec: ReplaySpec, api_key: str | None) -> store.RunRow:
        stored = replace(spec, extra={**spec.extra, "key_given": api_key is not None})
        run = store.create_run(self.runtime.meta, spec.tenant, spec.route, stored.to_json())
        self._start(run, stored, self._keys(stored, api_key))
        return store.get_run(self.runtime.meta, run.id)

    def resume(
        self, run_id: int, tenant: str | None, api_key: str | None, max_cost_usd: float | None = None
    ) -> store.RunRow:
        """Go on with a stopped run; ``max_cost_usd`` raises (or lowers) the cap of a capped one."""
        run = store.get_run(self.runtime.meta, run_id, tenant)
        with self._lock:
            if run_id in self._running:
                raise Conflict(f"replay run {run_id} is running")
        if run.status not in (*RESUMABLE, "capped", "failed"):
            raise Conflict(f"replay run {run_id} is {run.status}: only a stopped or failed run resumes")
        spec = spec_from_json(run.spec)
        if spec.extra.get("key_given") and api_key is None:
            raise Conflict(f"replay run {run_id} was started with an API key: send it again to resume")
        if max_cost_usd is not None:
            spec = replace(spec, max_cost_usd=max_cost_usd)
            run = store.update_run(self.runtime.meta, run_id, spec=spec.to_json())
        self._start(run, spec, self._keys(spec, api_key))
        return store.get_run(self.runtime.meta, run_id)

    def cancel(self, run_id: int, tenant: str | None) -> store.RunRow:
        run = store.get_run(self.runtime.meta, run_id, tenant)
        with self._lock:
            entry = self._running.get(run_id)
        if entry is not None:
            entry[0].cancel()
            entry[1].join(timeout=120)
        elif run.status in RESUMABLE:
            store.update_run(self.runtime.meta, run_id, status="cancelled")
        return store.get_run(self.runtime.meta, run_id)

    def active(self) -> list[int]:
        with self._lock:
            return sorted(self._running)

    # -- lifecycle -----------------------------------------------------------------------------------
    def resume_left_over(self) -> None:
        for run in store.runs_with_status(self.runtime.meta, RESUMABLE):
            spec = spec_from_json(run.spec)
            if spec.extra.get("key_given"):
                store.update_run(
                    self.runtime.meta, run.id, status="interrupted",
                    error="started with an API key, which is never stored: resume it with the key",
                )  # fmt: skip
                continue
            self._start(run, spec, server_keys(spec))

    def close(self) -> None:
        with self._lock:
            self._closing = True
            entries = list(self._running.values())
        for executor, _ in entries:
            executor.ctx.stop.set()
        for _, thread in entries:
            thread.join(timeout=120)

    # -- internals -----------------------------------------------------------------------------------
    def _keys(self, spec: ReplaySpec, api_key: str | None) -> dict[str, str | None]:
        keys = server_keys(spec)
        if api_key is not None:
            for ref in models_of(spec):
                if ref.base_url:  # a key sent with the request goes only to the URLs the request chose
                    keys[ref.label] = api_key
        return keys

    def _context(self, keys: dict[str, str | None]) -> Context:
        from tiermix_server.pricing.enricher import configured_tier_map, running_enricher

        runtime = self.runtime
        enricher = running_enricher(runtime)
        tier_map = configured_tier_map(enricher, runtime.meta)
        return Context(
            client=runtime.clickhouse,
            meta=runtime.meta,
            quote=enricher.quote,
            tier_of=lambda provider, model: enricher.explain(model, provider).tier,
            tier_names=tier_map.names,
            keys=keys,
            recorder=self.recorder,
            python_judges=runtime.settings.python_judge_modules,
            ttl_days=runtime.settings.capture_ttl_days,
        )

    def _start(self, run: store.RunRow, spec: ReplaySpec, keys: dict[str, str | None]) -> None:
        lease = Lease(self.runtime.meta, ttl_s=LEASE_TTL_S, name=f"replay-run:{run.id}")
        if not lease.acquire():
            raise Conflict(f"replay run {run.id} is being executed by another server")
        executor = RunExecutor(self._context(keys), run, spec)
        thread = threading.Thread(
            target=self._execute, args=(executor, lease), name=f"tiermix-replay-run-{run.id}"
        )
        with self._lock:
            if self._closing:
                lease.release()
                return
            self._running[run.id] = (executor, thread)
        # Before the thread runs: the API never shows a run about to go on as still stopped.
        store.update_run(self.runtime.meta, run.id, status="queued", error="")
        thread.start()

    def _execute(self, executor: RunExecutor, lease: Lease) -> None:
        run_id = executor.run.id
        renew = threading.Event()

        def keep_lease() -> None:
            while not renew.wait(LEASE_TTL_S / 3):
                with contextlib.suppress(Exception):
                    lease.acquire()

        keeper = threading.Thread(target=keep_lease, name=f"tiermix-replay-lease-{run_id}", daemon=True)
        keeper.start()
        try:
            status = executor.execute()
            log.info("replay run %s: %s", run_id, status)
        except Exception:
            log.exception("replay run %s failed", run_id)
            with contextlib.suppress(Exception):
                store.update_run(
                    self.runtime.meta, run_id, status="failed", error="internal error (see the log)"
                )
        finally:
            renew.set()
            with contextlib.suppress(Exception):
                lease.release()
            with self._lock:
                self._running.pop(run_id, None)


async def start_replays(runtime: Any, stack: contextlib.AsyncExitStack) -> None:
    """The replay service (``runtime.replays``); runs left over by the last process are resumed."""
    service = ReplayService(runtime, asyncio.get_running_loop())
    runtime.replays = service
    await asyncio.to_thread(service.resume_left_over)

    async def stop() -> None:
        await asyncio.to_thread(service.close)

    stack.push_async_callback(stop)
