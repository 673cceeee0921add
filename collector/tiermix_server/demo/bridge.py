"""A simulated request → the SDK's own call records, with the simulated start and end times.

This is the one module that touches SDK internals. The public ``tiermix.call`` / ``tiermix.cascade``
API timestamps a call with the wall clock around its block; a simulator (and a backfill) needs the
simulated times instead, and the public API has no setter for them yet. So the demo builds the same
``Record`` objects ``call``/``cascade`` would (request id, attempt index, final / escalated / failover,
routing decision, usage, error type) and hands them to the SDK's runtime: from there on it is the real
SDK path — bounded queue, export worker, OTLP encoder, gzip, HTTP transport, retries, drop reports.
"""

from __future__ import annotations

import random

from tiermix._context import Routing, Scope, hash_user
from tiermix._record import CallOptions, Record
from tiermix.extract import Extracted
from tiermix_server.demo.cascade import DemoRequest, Outcome


def records_for(request: DemoRequest, rng: random.Random) -> list[Record]:
    """The call records of one logical request (all attempts share one request id and trace)."""
    request_id = f"{rng.getrandbits(64) or 1:016x}"
    trace_id = rng.getrandbits(128) or 1
    routing = Routing(request.router, request.routing_reason, request.routing_score)
    scope = Scope(tenant=request.tenant, route=request.route, user_hash=hash_user(request.user))
    records = []
    for index, attempt in enumerate(request.attempts):
        model = attempt.model
        options = CallOptions(
            route=request.route, operation="chat", provider=model.provider, model=model.name
        )
        errored = attempt.error_type is not None
        extracted = Extracted(
            provider=model.provider,
            operation="chat",
            model=None if errored else model.name,
            input_tokens=None if errored else attempt.input_tokens,
            output_tokens=None if errored else attempt.output_tokens,
            cache_read_tokens=attempt.cache_read_tokens or None,
            reasoning_tokens=attempt.reasoning_tokens or None,
            finish_reason=attempt.finish_reason,
        )
        record = Record(attempt.start_ns, attempt.end_ns, options, scope, extracted, attempt.error_type, None)
        record.request_model = model.name
        record.request_id = request_id
        record.trace_id = trace_id
        record.attempt = index
        record.final = attempt.outcome is Outcome.ANSWERED
        record.escalated = attempt.outcome is Outcome.ESCALATED
        record.failover = True if attempt.outcome is Outcome.FAILOVER else None
        record.escalation_reason = attempt.reason
        record.escalation_detail = attempt.detail
        # The router decided the first attempt; later ones were decided by the cascade (verification).
        record.routing = routing if index == 0 else None
        records.append(record)
    return records
