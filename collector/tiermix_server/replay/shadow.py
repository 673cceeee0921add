"""A replay's own calls, recorded by tiermix like any other call, in environment ``shadow``.

Each candidate and judge call becomes an OTLP span handed to this server's own ingest (``process`` →
``pipeline.submit``: the same enrichment, dedup and durability as calls from the SDK), with the route of
the run, ``deployment.environment=shadow`` and the tags ``replay_run`` and ``replay_role`` (candidate or
judge). Their cost is what the run counted against its cap (``tiermix.cost_usd``), so ``GET
/api/v1/cost?environment=shadow`` shows exactly what replays spent; without ``environment=shadow`` no
view, alert or opportunity counts them (``metrics/filters.py``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from concurrent.futures import Future
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tiermix_server.ingest.process import process
from tiermix_server.ingest.validate import Limits
from tiermix_server.metrics.filters import SHADOW_ENVIRONMENT
from tiermix_server.replay.candidates import Completion
from tiermix_server.replay.spec import ModelRef

log = logging.getLogger("tiermix.replay")
SERVICE = "tiermix-replay"


def shadow_request(
    tenant: str,
    route: str,
    run_id: int,
    role: str,
    ref: ModelRef,
    completion: Completion,
    cost_usd: float | None,
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (("service.name", SERVICE), ("deployment.environment.name", SHADOW_ENVIRONMENT)):
        attribute = resource_spans.resource.attributes.add()
        attribute.key = key
        attribute.value.string_value = value
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tiermix.replay"
    span = scope_spans.spans.add()
    span.trace_id = random.getrandbits(128).to_bytes(16, "big")
    span.span_id = (random.getrandbits(64) or 1).to_bytes(8, "big")
    span.name = f"chat {ref.model}"
    span.start_time_unix_nano = completion.start_ns
    span.end_time_unix_nano = max(completion.end_ns, completion.start_ns)
    attributes: list[tuple[str, Any]] = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", ref.provider),
        ("gen_ai.request.model", ref.model),
        ("gen_ai.response.model", completion.model),
        ("gen_ai.usage.input_tokens", completion.input_tokens),
        ("gen_ai.usage.output_tokens", completion.output_tokens),
        ("tiermix.tenant", tenant),
        ("tiermix.route", route),
        ("tiermix.tag.replay_run", str(run_id)),
        ("tiermix.tag.replay_role", role),
    ]
    if cost_usd is not None:
        attributes.append(("tiermix.cost_usd", cost_usd))
    for key, value in attributes:
        attribute = span.attributes.add()
        attribute.key = key
        if isinstance(value, str):
            attribute.value.string_value = value
        elif isinstance(value, int):
            attribute.value.int_value = value
        else:
            attribute.value.double_value = float(value)
    return request


class ShadowRecorder:
    """Hands shadow calls to the server's ingest from replay worker threads, without waiting on them."""

    def __init__(self, runtime: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._runtime = runtime
        self._loop = loop
        self.failed = 0

    def record(
        self, tenant: str, route: str, run_id: int, role: str, ref: ModelRef, completion: Completion,
        cost_usd: float | None,
    ) -> Future[None] | None:  # fmt: skip
        runtime = self._runtime
        if runtime.pipeline is None:
            return None
        processed = process(
            shadow_request(tenant, route, run_id, role, ref, completion, cost_usd),
            enricher=runtime.enricher,
            limits=Limits(now_ns=time.time_ns(), max_age_days=runtime.settings.raw_ttl_days),
        )
        future = asyncio.run_coroutine_threadsafe(runtime.pipeline.submit(processed), self._loop)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[None]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.failed += 1
            log.warning("a replay call could not be recorded: %s", future.exception())
