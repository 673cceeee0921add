"""A simulated request → calls recorded through the public tiermix API, at their simulated times.

The demo records exactly what an application would: ``tiermix.context`` (tenant, user),
``tiermix.cascade`` (``decide`` for the router's choice, ``escalate`` / ``failover`` after an attempt
the cascade gave up on) and one ``tiermix.call`` per attempt. The only thing a real application does
not do is ``set_times``: a simulator (and a backfill) gives each call its simulated start and end
instead of the wall clock around the block, and ``set_error`` records a simulated provider error
without raising one. From there on it is the real SDK path -- bounded queue, export worker, OTLP
encoder, gzip, HTTP transport, retries, drop reports.
"""

from __future__ import annotations

import tiermix
from tiermix_server.demo.cascade import Attempt, DemoRequest, Outcome


def record_request(request: DemoRequest) -> int:
    """Record the attempts of one logical request as one cascade; returns how many calls that was."""
    with (
        tiermix.context(tenant=request.tenant, user=request.user),
        tiermix.cascade(route=request.route) as cascade,
    ):
        # The router decided the first attempt; later ones were decided by the cascade (verification).
        cascade.decide(request.router, request.routing_reason, request.routing_score)
        for attempt in request.attempts:
            _record_attempt(attempt)
            if attempt.outcome is Outcome.ESCALATED:
                cascade.escalate(attempt.reason or "manual", attempt.detail)
            elif attempt.outcome is Outcome.FAILOVER:
                cascade.failover(attempt.reason or "error", attempt.detail)
    return len(request.attempts)


def _record_attempt(attempt: Attempt) -> None:
    model = attempt.model
    with tiermix.call(model=model.name, provider=model.provider) as call:
        call.set_times(attempt.start_ns, attempt.end_ns)
        if attempt.error_type is not None:
            call.set_error(attempt.error_type)  # no answer: no served model, no usage
        else:
            call.set_served_model(model.name)
            call.set_usage(
                input_tokens=attempt.input_tokens,
                output_tokens=attempt.output_tokens,
                cache_read_tokens=attempt.cache_read_tokens or None,
                reasoning_tokens=attempt.reasoning_tokens or None,
            )
        if attempt.finish_reason is not None:
            call.set_finish_reason(attempt.finish_reason)
