"""The evaluator against a real metadata DB and real channel receivers, with an injected clock.

Metric values come through the ``MetricSource`` seam (scripted per group); the real ClickHouse source
is exercised by the end-to-end spike test.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tiermix_server.alerts.channels.webhook import SIGNATURE_HEADER, verify
from tiermix_server.alerts.clock import ManualClock
from tiermix_server.alerts.evaluate import CycleReport, Evaluator
from tiermix_server.alerts.metric_adapter import Sample
from tiermix_server.alerts.rules import RuleSpec, parse_rule
from tiermix_server.alerts.store import create_rule, create_silence, list_events, list_states
from tiermix_server.meta.lease import Lease

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SECRET = "hmac-secret"
HIGH, LOW = Sample(0.6, 100), Sample(0.1, 100)


class ScriptedMetrics:
    """What each rule's metric is right now, per group; a rule named in ``broken`` raises."""

    def __init__(self) -> None:
        self.samples: dict[str, Sample] = {}
        self.broken: set[str] = set()

    def measure(self, spec: RuleSpec, start: datetime, end: datetime) -> dict[str, Sample]:
        if spec.name in self.broken:
            raise RuntimeError("metric query failed")
        return dict(self.samples)


def rule_body(url: str, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "frontier spike",
        "metric": "frontier_share",
        "group_by": ["tenant"],
        "window": "5m",
        "condition": {"op": ">", "threshold": 0.3},
        "min_volume": 50,
        "for": "1m",
        "repeat_interval": "10m",
        "channels": [{"type": "webhook", "url": url, "secret": SECRET}],
    }
    body.update(changes)
    return body


def make_evaluator(meta: Any, metrics: ScriptedMetrics, clock: ManualClock, **kwargs: Any) -> Evaluator:
    return Evaluator(meta, metrics, dashboard_url="http://dash:8501", clock=clock, backoff_s=0.01, **kwargs)


def cycle(evaluator: Evaluator, clock: ManualClock, seconds: float = 0) -> CycleReport:
    clock.advance(seconds)
    return asyncio.run(evaluator.run_once())


def kinds(receiver: Any) -> list[tuple[str, dict[str, str]]]:
    return [(body["kind"], body["group"]) for body in receiver.bodies()]


@pytest.fixture
def metrics() -> ScriptedMetrics:
    return ScriptedMetrics()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def test_group_goes_pending_fires_repeats_and_resolves_with_signed_webhooks(meta, receiver, metrics, clock):
    create_rule(meta, parse_rule(rule_body(receiver.url)))
    evaluator = make_evaluator(meta, metrics, clock)
    metrics.samples = {"tenant=acme": HIGH, "tenant=globex": LOW}
    cycle(evaluator, clock)
    assert {s["group"]["tenant"]: s["state"] for s in list_states(meta)} == {
        "acme": "pending",
        "globex": "ok",
    }
    assert receiver.requests == []
    cycle(evaluator, clock, 60)
    assert kinds(receiver) == [("firing", {"tenant": "acme"})]
    for _ in range(10):
        cycle(evaluator, clock, 60)
    assert kinds(receiver)[-1] == ("repeat", {"tenant": "acme"}) and len(receiver.requests) == 2
    metrics.samples = {"tenant=acme": LOW, "tenant=globex": LOW}
    cycle(evaluator, clock, 60)
    cycle(evaluator, clock, 60)
    assert [k for k, _ in kinds(receiver)] == ["firing", "repeat", "resolved"]
    for request in receiver.requests:
        assert verify(SECRET, request.body, request.headers[SIGNATURE_HEADER.lower()])
    firing = receiver.bodies()[0]
    assert firing["value"] == 0.6 and firing["threshold"] == 0.3 and firing["rule_name"] == "frontier spike"
    assert firing["dashboard_url"].startswith("http://dash:8501/?range=custom&")
    assert firing["dashboard_url"].endswith("&tenant=acme")
    transitions = [
        (e["from"], e["to"]) for e in reversed(list_events(meta)) if "notification" not in e["details"]
    ]
    assert transitions == [
        ("ok", "pending"),
        ("pending", "firing"),
        ("firing", "resolved"),
        ("resolved", "ok"),
    ]


def test_restarted_evaluator_does_not_notify_again(meta, receiver, metrics, clock):
    create_rule(meta, parse_rule(rule_body(receiver.url, **{"for": "0s"})))
    metrics.samples = {"tenant=acme": HIGH}
    cycle(make_evaluator(meta, metrics, clock), clock)
    assert len(receiver.requests) == 1
    restarted = make_evaluator(meta, metrics, clock)
    for _ in range(3):
        cycle(restarted, clock, 60)
    assert len(receiver.requests) == 1


def test_notification_decided_before_a_crash_is_delivered_once_after_restart(meta, receiver, metrics, clock):
    create_rule(meta, parse_rule(rule_body(receiver.url, **{"for": "0s"})))
    metrics.samples = {"tenant=acme": HIGH}
    crashed = make_evaluator(meta, metrics, clock)
    # The crashed process decided and persisted (state + outbox) but died before delivering.
    outbox = crashed._evaluate_all(clock.now(), CycleReport(leader=True))
    assert len(outbox) == 1 and receiver.requests == []
    restarted = make_evaluator(meta, metrics, clock)
    cycle(restarted, clock, 30)
    cycle(restarted, clock, 30)
    assert kinds(receiver) == [("firing", {"tenant": "acme"})]


def test_fingerprint_already_sent_is_not_sent_again(meta, receiver, metrics, clock):
    from tiermix_server.alerts import persist
    from tiermix_server.meta.models import AlertNotification

    create_rule(meta, parse_rule(rule_body(receiver.url, **{"for": "0s"})))
    metrics.samples = {"tenant=acme": HIGH}
    crashed = make_evaluator(meta, metrics, clock)
    (item,) = crashed._evaluate_all(clock.now(), CycleReport(leader=True))
    # A record of this exact notification already exists (sent by an earlier incarnation).
    fingerprint = item.notification.fingerprint("0:webhook")
    with meta.session() as session:
        session.add(
            AlertNotification(
                fingerprint=fingerprint, rule_id=item.rule_id, group_key=item.group_key, channel="0:webhook",
                kind="firing", sent_at=clock.now(), status="sent",
            )
        )  # fmt: skip
    assert persist.already_sent(meta, item.notification, ["0:webhook"]) == {"0:webhook"}
    report = cycle(make_evaluator(meta, metrics, clock), clock, 30)
    assert receiver.requests == [] and report.deliveries == []


def test_silence_mutes_one_group_until_it_expires(meta, receiver, metrics, clock):
    rule = create_rule(meta, parse_rule(rule_body(receiver.url, **{"for": "0s"})))
    create_silence(
        meta, rule_id=rule.id, group={"tenant": "acme"}, starts_at=T0, ends_at=T0 + timedelta(minutes=5)
    )
    metrics.samples = {"tenant=acme": HIGH, "tenant=globex": HIGH}
    evaluator = make_evaluator(meta, metrics, clock)
    cycle(evaluator, clock)
    cycle(evaluator, clock, 120)
    assert kinds(receiver) == [("firing", {"tenant": "globex"})]
    cycle(evaluator, clock, 180)  # the silence ended at T0 + 5m
    assert kinds(receiver)[-1] == ("firing", {"tenant": "acme"}) and len(receiver.requests) == 2


def test_volume_under_minimum_is_no_data_and_never_notifies(meta, receiver, metrics, clock):
    create_rule(meta, parse_rule(rule_body(receiver.url, **{"for": "0s"})))
    metrics.samples = {"tenant=acme": Sample(0.9, 10)}
    evaluator = make_evaluator(meta, metrics, clock)
    cycle(evaluator, clock)
    cycle(evaluator, clock, 60)
    assert [s["state"] for s in list_states(meta)] == ["no_data"]
    assert receiver.requests == []
    (event,) = list_events(meta)
    assert event["to"] == "no_data" and event["details"]["reason"] == "under 50 requests"


def test_broken_channel_and_broken_rule_do_not_stop_the_others(meta, receiver, metrics, clock):
    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    channels = [{"type": "webhook", "url": dead, "max_attempts": 2}, {"type": "webhook", "url": receiver.url}]
    create_rule(meta, parse_rule(rule_body(receiver.url, name="broken", **{"for": "0s"})))
    create_rule(meta, parse_rule(rule_body(receiver.url, name="healthy", channels=channels, **{"for": "0s"})))
    metrics.broken = {"broken"}
    metrics.samples = {"tenant=acme": HIGH}
    report = cycle(make_evaluator(meta, metrics, clock), clock)
    assert list(report.errors.values()) == ["RuntimeError: metric query failed"]
    assert kinds(receiver) == [("firing", {"tenant": "acme"})]
    outcomes = {d.channel_id: d.ok for d in report.deliveries}
    assert outcomes == {"0:webhook": False, "1:webhook": True}
    failed = [e for e in list_events(meta) if e["details"].get("ok") is False]
    assert failed and "ConnectError" in failed[0]["details"]["error"]


def test_webhook_retries_server_errors_with_backoff_but_not_client_errors(meta, receiver, metrics, clock):
    create_rule(meta, parse_rule(rule_body(receiver.url, **{"for": "0s"})))
    receiver.statuses = [503, 500]
    metrics.samples = {"tenant=acme": HIGH}
    evaluator = make_evaluator(meta, metrics, clock)
    report = cycle(evaluator, clock)
    assert len(receiver.requests) == 3 and report.deliveries[0].ok
    receiver.statuses = [400]
    metrics.samples = {"tenant=acme": LOW}
    report = cycle(evaluator, clock, 60)
    assert len(receiver.requests) == 4 and not report.deliveries[0].ok
    assert "answered 400" in report.deliveries[0].error


def test_email_channel_delivers_over_smtp(meta, smtp_server, metrics, clock):
    channel = {
        "type": "email",
        "to": ["ops@example.com"],
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_server.port,
    }
    create_rule(meta, parse_rule(rule_body("http://unused", channels=[channel], **{"for": "0s"})))
    metrics.samples = {"tenant=acme": HIGH}
    report = cycle(make_evaluator(meta, metrics, clock), clock)
    assert [d.ok for d in report.deliveries] == [True]
    (message,) = smtp_server.messages
    assert message["Subject"] == "[FIRING] frontier spike (tenant=acme)"
    assert "frontier share 60.0%" in message.get_content()


def test_only_the_lease_holder_evaluates_and_a_standby_takes_over_when_it_dies(
    meta, receiver, metrics, clock
):
    create_rule(meta, parse_rule(rule_body(receiver.url, **{"for": "0s"})))
    metrics.samples = {"tenant=acme": HIGH}
    lease_clock = ManualClock(T0)
    first = make_evaluator(meta, metrics, clock, lease=Lease(meta, ttl_s=60, holder="a", clock=lease_clock))
    second = make_evaluator(meta, metrics, clock, lease=Lease(meta, ttl_s=60, holder="b", clock=lease_clock))
    assert cycle(first, clock).leader and not cycle(second, clock).leader
    lease_clock.advance(30)
    assert cycle(first, clock, 30).leader and not cycle(second, clock).leader
    lease_clock.advance(59)  # first renewed 59 s ago: still its lease
    assert not cycle(second, clock).leader
    lease_clock.advance(1)  # first is dead: nothing renewed for 60 s
    assert cycle(second, clock, 60).leader
    assert not cycle(first, clock).leader
    assert len(receiver.requests) == 1  # the standby continued the episode; no second firing


def test_run_forever_stops_on_request_and_hands_the_lease_over(meta, metrics, clock):
    lease = Lease(meta, ttl_s=600, holder="a")

    async def main() -> None:
        evaluator = make_evaluator(meta, metrics, clock, lease=lease)
        stop = asyncio.Event()
        task = asyncio.create_task(evaluator.run_forever(0.01, stop))
        while evaluator.last_report is None:
            await asyncio.sleep(0.01)
        assert lease.current_holder() is not None
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert lease.current_holder() is None
    assert Lease(meta, ttl_s=600, holder="b").acquire()


class DailyMetrics(ScriptedMetrics):
    """The current window answers ``samples``; the same window on earlier days answers ``baseline``."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock
        self.baseline: dict[str, Sample] = {}

    def measure(self, spec: RuleSpec, start: datetime, end: datetime) -> dict[str, Sample]:
        return dict(self.samples if end == self.clock.now() else self.baseline)


def test_ratio_to_the_same_hour_on_previous_days_fires_for_the_unusual_group(meta, receiver, clock):
    metrics = DailyMetrics(clock)
    condition = {"op": ">", "threshold": 2, "kind": "ratio", "baseline_days": 7}
    create_rule(meta, parse_rule(rule_body(receiver.url, condition=condition, **{"for": "0s"})))
    metrics.baseline = {"tenant=acme": Sample(0.1, 100), "tenant=globex": Sample(0.3, 100)}
    metrics.samples = {"tenant=acme": Sample(0.25, 100), "tenant=globex": Sample(0.5, 100)}
    cycle(make_evaluator(meta, metrics, clock), clock)
    (firing,) = receiver.bodies()
    assert firing["group"] == {"tenant": "acme"} and firing["compared"] == pytest.approx(2.5)
    assert firing["baseline"] == pytest.approx(0.1) and "2.50x its baseline 10.0%" in firing["summary"]


def test_slack_channel_posts_a_readable_message(meta, receiver, metrics, clock):
    create_rule(
        meta,
        parse_rule(
            rule_body(receiver.url, channels=[{"type": "slack", "url": receiver.url}], **{"for": "0s"})
        ),
    )
    metrics.samples = {"tenant=acme": HIGH}
    cycle(make_evaluator(meta, metrics, clock), clock)
    (message,) = receiver.bodies()
    assert message["text"].startswith(":rotating_light: *[FIRING] frontier spike (tenant=acme)*")
    assert "frontier share 60.0%" in message["text"] and "|open in tiermix>" in message["text"]


def test_a_hanging_receiver_does_not_delay_another_rules_notification(meta, receiver, metrics, clock):
    """One tenant's receiver hangs; the operator's alert still goes out at once, in the same cycle."""
    import contextlib
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()

    class Hanging(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            release.wait(30)
            with contextlib.suppress(OSError):
                self.send_response(200)
                self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hanging = ThreadingHTTPServer(("127.0.0.1", 0), Hanging)
    threading.Thread(target=hanging.serve_forever, daemon=True).start()
    try:
        slow = [{"type": "webhook", "url": f"http://127.0.0.1:{hanging.server_address[1]}/", "timeout_s": 5}]
        create_rule(
            meta, parse_rule(rule_body(receiver.url, name="slow tenant", channels=slow, **{"for": "0s"}))
        )
        create_rule(meta, parse_rule(rule_body(receiver.url, name="operator", **{"for": "0s"})))
        metrics.samples = {"tenant=acme": HIGH}
        evaluator = make_evaluator(meta, metrics, clock, delivery_wait_s=0.5)
        running = threading.Thread(target=cycle, args=(evaluator, clock))
        running.start()
        deadline = time_now() + 4  # well inside the slow channel's 3 attempts x 5 s
        while not receiver.requests and time_now() < deadline:
            threading.Event().wait(0.05)
        assert kinds(receiver) == [("firing", {"tenant": "acme"})], "the operator's alert waited"
        # The cycle itself is not held by the hanging delivery: it ends while the receiver still hangs.
        running.join(10)
        assert not running.is_alive() and not release.is_set()
        release.set()
    finally:
        release.set()
        hanging.shutdown()
        hanging.server_close()


def time_now() -> float:
    import time

    return time.monotonic()


def test_a_notification_that_failed_every_attempt_is_retried_on_later_cycles(meta, receiver, metrics, clock):
    create_rule(meta, parse_rule(rule_body(receiver.url, **{"for": "0s"})))
    receiver.statuses = [503, 503, 503]  # every attempt of the first cycle fails
    metrics.samples = {"tenant=acme": HIGH}
    evaluator = make_evaluator(meta, metrics, clock)
    first = cycle(evaluator, clock)
    assert [d.ok for d in first.deliveries] == [False]
    second = cycle(evaluator, clock, 30)  # still firing: no new notification, the old one again
    assert [d.ok for d in second.deliveries] == [True]
    assert [kind for kind, _ in kinds(receiver)] == ["firing"] * 4  # 3 failed tries, then delivered
    assert cycle(evaluator, clock, 30).deliveries == []  # delivered: not sent again


def test_disabling_a_firing_rule_clears_its_states(meta, receiver, metrics, clock):
    from tiermix_server.alerts.store import replace_rule

    rule = create_rule(meta, parse_rule(rule_body(receiver.url, **{"for": "0s"})))
    metrics.samples = {"tenant=acme": HIGH}
    cycle(make_evaluator(meta, metrics, clock), clock)
    assert [s["state"] for s in list_states(meta, rule.id)] == ["firing"]
    replace_rule(meta, rule.id, parse_rule({**rule.spec.to_json(), "enabled": False}))
    assert list_states(meta, rule.id) == []
