"""A frontier-share spike, end to end: OTLP → collector → chDB → evaluator → webhook + email.

Everything is real: the collector app under uvicorn, OTLP/HTTP protobuf on ``/v1/traces``, the ingest
pipeline, chDB, the metadata DB, the rules API, the evaluator running in the collector's lifespan, a
local HTTP receiver and a local SMTP server (aiosmtpd). Only time is simulated: spans carry timestamps of
a simulated 40 minutes, and the evaluator's clock (``runtime.extras["alerts_clock"]``) is stepped one
simulated minute at a time, so "for 2 minutes" takes no real minutes.

Traffic: tenants acme, globex and initech each send 20 requests a minute on ``support.answer`` (small
and mid models, one small→frontier cascade, two frontier calls: 15% frontier). From minute 20 to 26
acme alone answers 80% of its requests with the frontier model.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tests.integration.alerts.receivers import http_receiver, smtp_mailbox
from tests.support.server import serving_app
from tiermix_server.alerts.channels.webhook import SIGNATURE_HEADER, verify
from tiermix_server.alerts.clock import ManualClock

TENANTS = ("acme", "globex", "initech")
SPIKE_TENANT = "acme"
SPIKE_MINUTES = range(20, 26)
SIMULATED_MINUTES = 40
SECRET = "e2e-webhook-secret"
MODELS = {
    "small": ("openai", "gpt-4o-mini"),
    "mid": ("openai", "gpt-4o"),
    "frontier": ("anthropic", "claude-opus-4-1"),
}
_ids = itertools.count(1)


def attribute(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def llm_span(at: datetime, tenant: str, tier: str, **cascade: Any) -> Span:
    provider, model = MODELS[tier]
    start_ns = int(at.timestamp() * 1e9)
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "gen_ai.usage.input_tokens": 800,
        "gen_ai.usage.output_tokens": 120,
        "tiermix.tenant": tenant,
        "tiermix.route": "support.answer",
        **cascade,
    }
    return Span(
        trace_id=next(_ids).to_bytes(16, "big"),
        span_id=next(_ids).to_bytes(8, "big"),
        name=f"chat {model}",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + 900_000_000,
        attributes=[attribute(key, value) for key, value in attrs.items()],
    )


def minute_of_traffic(minute_start: datetime, tenant: str, spiking: bool) -> list[Span]:
    """20 requests spread over the minute; 15% frontier normally, 80% during a spike."""
    if spiking:
        plan = ["small"] * 4 + ["frontier"] * 16
    else:
        plan = ["small"] * 14 + ["mid"] * 3 + ["frontier"] * 2 + ["cascade"]
    spans = []
    for index, tier in enumerate(plan):
        at = minute_start + timedelta(seconds=index * 3)
        if tier != "cascade":
            spans.append(llm_span(at, tenant, tier))
            continue
        request_id = f"{next(_ids):016x}"
        spans.append(
            llm_span(at, tenant, "small", **{
                "tiermix.request_id": request_id, "tiermix.attempt": 0, "tiermix.final": False,
                "tiermix.escalated": True, "tiermix.escalation_reason": "verification_failed",
            })
        )  # fmt: skip
        spans.append(
            llm_span(at + timedelta(seconds=1), tenant, "frontier", **{
                "tiermix.request_id": request_id, "tiermix.attempt": 1, "tiermix.final": True,
            })
        )  # fmt: skip
    return spans


def otlp_body(spans: list[Span]) -> bytes:
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[attribute("service.name", "support-bot")]),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="e2e"), spans=spans)],
            )
        ]
    )
    return gzip.compress(request.SerializeToString())


@contextlib.contextmanager
def collector(settings: Any, clock: ManualClock) -> Iterator[tuple[str, Any]]:
    """The real collector app under uvicorn, with the evaluator's clock handed in before start-up."""
    from tiermix_server.app import create_app

    app = create_app(settings)
    app.state.runtime.extras["alerts_clock"] = clock
    with serving_app(app, settings.port, startup_timeout_s=60) as base_url:
        yield base_url, app.state.runtime


def wait_for_rows(runtime: Any, expected: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        count = runtime.clickhouse.query("SELECT count() FROM llm_calls").result_rows[0][0]
        if count >= expected:
            return
        assert time.monotonic() < deadline, f"only {count} of {expected} calls reached ClickHouse"
        time.sleep(0.02)


def test_frontier_spike_of_one_tenant_fires_once_and_resolves_once(make_settings):
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)
    clock = ManualClock(start)
    settings = make_settings(
        alerts_enabled=True,
        alerts_interval_s=0.05,
        batch_max_delay_s=0.05,
        dashboard_url="http://dash.test:8501",
    )
    with (
        http_receiver() as hook,
        smtp_mailbox() as mail,
        collector(settings, clock) as (base_url, runtime),
        httpx.Client(base_url=base_url, timeout=30) as http,
    ):
        rule = {
            "name": "frontier spike",
            "metric": "frontier_share",
            "group_by": ["tenant"],
            "filters": {"route": "support.answer"},
            "window": "5m",
            "condition": {"op": ">", "threshold": 0.3},
            "min_volume": 50,
            "for": "2m",
            "repeat_interval": "4h",
            "severity": "warning",
            "channels": [
                {"type": "webhook", "url": hook.url, "secret": SECRET},
                {"type": "email", "to": ["finops@example.com"], "smtp_host": "127.0.0.1",
                 "smtp_port": mail.port},
            ],
        }  # fmt: skip
        created = http.post("/api/v1/alerts/rules", json=rule)
        assert created.status_code == 201, created.text
        sent = 0
        timeline: list[tuple[int, dict[str, str]]] = []
        for minute in range(SIMULATED_MINUTES):
            minute_start = start + timedelta(minutes=minute)
            spiking = minute in SPIKE_MINUTES
            spans = [
                span
                for tenant in TENANTS
                for span in minute_of_traffic(minute_start, tenant, spiking and tenant == SPIKE_TENANT)
            ]
            answer = http.post(
                "/v1/traces",
                content=otlp_body(spans),
                headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            )
            assert answer.status_code == 200, answer.text
            sent += len(spans)
            wait_for_rows(runtime, sent)
            now = clock.advance(60)  # the minute just sent is complete: evaluate at its end
            runtime.alerts.wait_for_cycle(now)
            answer = http.get("/api/v1/alerts/states")
            states = {s["group"]["tenant"]: s["state"] for s in answer.json()["states"]}
            timeline.append((minute + 1, states))

        # The webhook got exactly one firing and one resolved message, both for acme, both signed.
        bodies = [json.loads(request.body) for request in hook.requests]
        assert [(b["kind"], b["group"]) for b in bodies] == [
            ("firing", {"tenant": "acme"}),
            ("resolved", {"tenant": "acme"}),
        ], timeline
        for request in hook.requests:
            assert verify(SECRET, request.body, request.headers[SIGNATURE_HEADER.lower()])
        firing, resolved = bodies
        assert firing["value"] > 0.3 and firing["volume"] >= 50 and firing["threshold"] == 0.3
        assert resolved["value"] <= 0.3
        assert "tenant=acme" in firing["dashboard_url"] and "route=support.answer" in firing["dashboard_url"]
        # The email channel got the same two, and nothing for the other tenants.
        assert [m["Subject"] for m in mail.messages] == [
            "[FIRING] frontier spike (tenant=acme)",
            "[RESOLVED] frontier spike (tenant=acme)",
        ]
        # Timing: pending after the spike started, firing 2 minutes later, resolved after it ended.
        acme = {minute: states.get("acme") for minute, states in timeline}
        fired = min(minute for minute, state in acme.items() if state == "firing")
        pending = min(minute for minute, state in acme.items() if state == "pending")
        assert SPIKE_MINUTES.start < pending < fired == pending + 2 <= SPIKE_MINUTES.stop
        assert acme[SIMULATED_MINUTES] == "ok"
        for tenant in ("globex", "initech"):
            assert {states.get(tenant) for _, states in timeline} <= {None, "no_data", "ok"}
        events = http.get("/api/v1/alerts/events", params={"limit": 1000}).json()["events"]
        transitions = [(e["from"], e["to"]) for e in reversed(events) if e["group"] == {"tenant": "acme"}]
        assert ("pending", "firing") in transitions and ("firing", "resolved") in transitions
