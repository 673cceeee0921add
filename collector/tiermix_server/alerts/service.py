"""Running alerts inside a process: the evaluator as a background task, and test notifications.

``start_alerts(runtime, stack)`` is called by the collector's lifespan (``app.py``) and by
``tiermix alerts run``. It starts nothing when ``settings.alerts_enabled`` is off. Every replica runs the
loop; the lease in the metadata DB makes exactly one of them evaluate. Tests can hand the evaluator a
``ManualClock`` through ``runtime.extras["alerts_clock"]`` before start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timezone
from typing import Any

from tiermix_server.alerts.destinations import policy_for
from tiermix_server.alerts.evaluate import Evaluator
from tiermix_server.alerts.metric_adapter import ClickHouseMetrics
from tiermix_server.alerts.notification import Notification, dashboard_link
from tiermix_server.alerts.notify import Delivery, deliver
from tiermix_server.alerts.store import RuleRecord
from tiermix_server.meta.lease import Lease

log = logging.getLogger("tiermix.alerts")

MIN_LEASE_TTL_S = 30.0


def lease_ttl_s(interval_s: float) -> float:
    """Three missed cycles (at least 30 s) before a standby takes over: a slow cycle is not a death."""
    return max(3 * interval_s, MIN_LEASE_TTL_S)


def build_evaluator(runtime: Any) -> Evaluator:
    from tiermix_server.pricing.enricher import configured_tier_map, running_enricher

    settings = runtime.settings
    runtime.metadata()

    from tiermix_server.meta.budgets import list_budgets

    def tiers() -> tuple[str, ...]:
        return configured_tier_map(runtime.enricher, runtime.meta).names

    def quote(at: Any, tenant: str, provider: str, model: str) -> Any:
        return running_enricher(runtime).quote(at, tenant, provider, model)

    ttl_s = runtime.extras.get("alerts_lease_ttl_s") or lease_ttl_s(settings.alerts_interval_s)
    return Evaluator(
        runtime.meta,
        ClickHouseMetrics(runtime.clickhouse, tiers, quote, lambda: list_budgets(runtime.meta)),
        dashboard_url=settings.dashboard_url,
        clock=runtime.extras.get("alerts_clock"),
        lease=Lease(runtime.meta, ttl_s=ttl_s),
        backoff_s=runtime.extras.get("alerts_backoff_s", 0.5),
        channel_allow=settings.channel_allow,
    )


async def start_alerts(runtime: Any, stack: contextlib.AsyncExitStack) -> None:
    """Run the evaluator every ``settings.alerts_interval_s`` until ``stack`` closes."""
    settings = runtime.settings
    if not settings.alerts_enabled:
        return
    evaluator = build_evaluator(runtime)
    runtime.alerts = evaluator
    stop = asyncio.Event()
    task = asyncio.create_task(evaluator.run_forever(settings.alerts_interval_s, stop), name="tiermix-alerts")

    async def _stop() -> None:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=30)
        except TimeoutError:  # not the builtin before Python 3.11
            task.cancel()
            log.warning("alert evaluator did not stop within 30 s; cancelled")

    stack.push_async_callback(_stop)
    log.info("alert evaluator started (every %gs)", settings.alerts_interval_s)


async def send_test(
    meta: Any, rule: RuleRecord, dashboard_url: str, channel_allow: str = ""
) -> list[Delivery]:
    """Send a ``test`` notification for ``rule`` to each of its channels now; record each outcome."""
    from tiermix_server.meta.models import AlertNotification

    now = datetime.now(timezone.utc)
    spec = rule.spec
    notification = Notification(
        kind="test", rule_id=rule.id, rule_name=rule.name, metric=spec.metric, severity=spec.severity,
        group={}, value=None, compared=None, baseline=None, op=spec.condition.op,
        threshold=spec.condition.threshold, condition_kind=spec.condition.kind, volume=0,
        window_s=spec.window, at=now, episode_start=now,
        dashboard_url=dashboard_link(dashboard_url, spec, {}, now),
    )  # fmt: skip
    channel_ids = [f"{index}:{channel.type}" for index, channel in enumerate(spec.channels)]
    deliveries = await asyncio.gather(
        *(
            deliver(notification, channel, cid, policy=policy_for(spec.filters.tenant, channel_allow))
            for cid, channel in zip(channel_ids, spec.channels, strict=True)
        )
    )

    def record() -> None:
        with meta.session() as session:
            for delivery in deliveries:
                session.merge(
                    AlertNotification(
                        fingerprint=notification.fingerprint(delivery.channel_id), rule_id=rule.id,
                        group_key="", channel=delivery.channel_id, kind="test", sent_at=now,
                        status="sent" if delivery.ok else "failed", error=delivery.error[:2000],
                    )
                )  # fmt: skip

    await asyncio.to_thread(record)
    return list(deliveries)
