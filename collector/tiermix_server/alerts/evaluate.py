"""The alert evaluator: every cycle, measure each enabled rule per group, step its state, notify.

One cycle: take (or renew) the leader lease — a replica without it does nothing; read "now" from the
injected clock; for each rule, measure the window ``[now - window, now)`` (and the baseline days for
relative conditions) and step every group's state machine. States, transition events and the
notifications they call for are written in ONE transaction per rule (an outbox in the state row), then
delivered; each delivery is recorded under its fingerprint and removed from the outbox. So a crash never
loses a notification (the outbox survives) and a restart never repeats one that was sent (the
fingerprint is checked first). A rule that fails to evaluate, or a channel that fails to deliver, is
logged and recorded; the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from tiermix_server.alerts import persist
from tiermix_server.alerts.clock import Clock, SystemClock
from tiermix_server.alerts.destinations import policy_for
from tiermix_server.alerts.judge import Judgement, judge
from tiermix_server.alerts.metric_adapter import MetricSource, Sample
from tiermix_server.alerts.notification import Notification, dashboard_link, decode_group
from tiermix_server.alerts.notify import Delivery, deliver
from tiermix_server.alerts.rules import RuleSpec
from tiermix_server.alerts.state import InstanceState, Step, Timing, step
from tiermix_server.alerts.store import RuleRecord, SilenceRecord, list_rules, list_silences
from tiermix_server.meta.lease import Lease
from tiermix_server.meta.models import AlertState

log = logging.getLogger("tiermix.alerts")


@dataclass(slots=True)
class CycleReport:
    leader: bool
    now: datetime | None = None
    rules: int = 0
    transitions: int = 0
    errors: dict[int, str] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)


class Evaluator:
    def __init__(
        self,
        meta: Any,
        metrics: MetricSource,
        *,
        dashboard_url: str,
        clock: Clock | None = None,
        lease: Lease | None = None,
        backoff_s: float = 0.5,
        channel_allow: str = "",
        delivery_wait_s: float = 10.0,
    ) -> None:
        self.meta = meta
        self.channel_allow = channel_allow  # TIERMIX_CHANNEL_ALLOW (destinations.py)
        self.delivery_wait_s = delivery_wait_s
        self._delivering: set[str] = set()  # outbox entries whose delivery is under way
        self._delivery_tasks: set[asyncio.Task[Any]] = set()
        self.metrics = metrics
        self.dashboard_url = dashboard_url
        self.clock = clock or SystemClock()
        self.lease = lease
        self.backoff_s = backoff_s
        self.last_report: CycleReport | None = None
        self._cycle_done = threading.Condition()

    # ---- the loop ---------------------------------------------------------------------------------

    async def run_forever(self, interval_s: float, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.run_once()
                except Exception:  # the loop must survive anything a cycle throws (DB down, ...)
                    log.exception("alert evaluation cycle failed")
                with contextlib.suppress(asyncio.TimeoutError):  # not the builtin before 3.11
                    await asyncio.wait_for(stop.wait(), interval_s)
        finally:
            if self._delivery_tasks:  # let deliveries under way finish (bounded), then hand over
                await asyncio.wait(set(self._delivery_tasks), timeout=30)
            if self.lease is not None:
                await asyncio.to_thread(self.lease.release)

    async def run_once(self) -> CycleReport:
        if self.lease is not None and not await asyncio.to_thread(self.lease.acquire):
            return self._finish(CycleReport(leader=False))
        now = self.clock.now()
        report = CycleReport(leader=True, now=now)
        outbox = await asyncio.to_thread(self._evaluate_all, now, report)
        # Every notification at once, outside the cycle: one tenant's hanging receiver delays neither
        # another's alert nor the next evaluation. The cycle waits ``delivery_wait_s`` for them, so its
        # report has what finished; the rest goes on and is recorded when it ends. An entry still being
        # delivered is not started again by the next cycle (it stays in the outbox until recorded).
        started = []
        for item in outbox:
            if item.entry_id in self._delivering:
                continue
            self._delivering.add(item.entry_id)
            task = asyncio.create_task(self._deliver_and_forget(item))
            self._delivery_tasks.add(task)
            task.add_done_callback(self._delivery_tasks.discard)
            started.append(task)
        if started:
            done, _pending = await asyncio.wait(started, timeout=self.delivery_wait_s)
            for task in done:
                if task.exception() is None:
                    report.deliveries.extend(task.result())
        return self._finish(report)

    def _finish(self, report: CycleReport) -> CycleReport:
        with self._cycle_done:
            self.last_report = report
            self._cycle_done.notify_all()
        return report

    def wait_for_cycle(self, at_least: datetime, timeout_s: float = 30.0) -> CycleReport:
        """Block until a cycle that evaluated at ``at_least`` or later has finished (tests, CLI)."""

        def done() -> bool:
            report = self.last_report
            return report is not None and report.now is not None and report.now >= at_least

        with self._cycle_done:
            if not self._cycle_done.wait_for(done, timeout=timeout_s):
                raise TimeoutError(f"no alert evaluation at {at_least.isoformat()} within {timeout_s}s")
            assert self.last_report is not None
            return self.last_report

    # ---- evaluation (worker thread) -----------------------------------------------------------------

    def _evaluate_all(self, now: datetime, report: CycleReport) -> list[persist.OutboxItem]:
        rules = list_rules(self.meta, enabled_only=True)
        silences = list_silences(self.meta, active_at=now)
        report.rules = len(rules)
        outbox: list[persist.OutboxItem] = []
        for rule in rules:
            try:
                outbox.extend(self._evaluate_rule(rule, now, silences, report))
            except Exception as exc:  # one broken rule never stops the others
                log.exception("alert rule %s (%r) failed to evaluate", rule.id, rule.name)
                report.errors[rule.id] = f"{type(exc).__name__}: {exc}"
        return outbox

    def _evaluate_rule(
        self, rule: RuleRecord, now: datetime, silences: list[SilenceRecord], report: CycleReport
    ) -> list[persist.OutboxItem]:
        spec = rule.spec
        start = now - timedelta(seconds=spec.window)
        samples = self.metrics.measure(spec, start, now)
        baselines = self._baselines(spec, start, now) if spec.condition.kind != "static" else {}
        timing = Timing(spec.for_s, spec.keep_firing_for, spec.repeat_interval)
        with self.meta.session() as session:
            rows = {
                row.group_key: row
                for row in session.scalars(select(AlertState).where(AlertState.rule_id == rule.id))
            }
            if not spec.group_by:
                samples.setdefault("", Sample(None, 0))
            outbox = []
            for group_key in sorted(set(samples) | set(rows)):
                group = decode_group(group_key)
                judgement = judge(spec, samples.get(group_key), baselines.get(group_key, ()))
                row = rows.get(group_key)
                previous = persist.state_of(row) if row is not None else InstanceState()
                silenced = any(silence.matches(rule.id, group, now) for silence in silences)
                result = step(previous, judgement.observation, timing, now, silenced=silenced)
                notification = None
                if result.notify is not None:
                    notification = self._notification(rule, group, judgement, result, now)
                if result.transitioned:
                    report.transitions += 1
                    persist.add_transition(session, rule, group_key, group, result, judgement, now)
                pending = persist.save_state(session, rule, group_key, row, result.state, now, notification)
                outbox.extend(persist.outbox_items(rule, group_key, pending))
        return outbox

    def _baselines(self, spec: RuleSpec, start: datetime, end: datetime) -> dict[str, list[float]]:
        values: dict[str, list[float]] = {}
        for days in range(1, spec.condition.baseline_days + 1):
            shift = timedelta(days=days)
            for group_key, sample in self.metrics.measure(spec, start - shift, end - shift).items():
                if sample.value is not None and sample.volume > 0:
                    values.setdefault(group_key, []).append(sample.value)
        return values

    def _notification(
        self, rule: RuleRecord, group: dict[str, str], judgement: Judgement, result: Step, now: datetime
    ) -> Notification:
        spec = rule.spec
        assert result.notify is not None
        episode = result.state.firing_since or result.previous.firing_since
        return Notification(
            kind=result.notify.value,
            rule_id=rule.id,
            rule_name=rule.name,
            metric=spec.metric,
            severity=spec.severity,
            group=group,
            value=judgement.observation.value,
            compared=judgement.compared,
            baseline=judgement.baseline,
            op=spec.condition.op,
            threshold=spec.condition.threshold,
            condition_kind=spec.condition.kind,
            volume=judgement.observation.volume,
            window_s=spec.window,
            at=now,
            episode_start=episode,
            dashboard_url=dashboard_link(self.dashboard_url, spec, group, now),
            repeat=result.state.repeats if result.notify.value == "repeat" else 0,
        )

    # ---- delivery ------------------------------------------------------------------------------------

    async def _deliver_and_forget(self, item: persist.OutboxItem) -> Iterable[Delivery]:
        try:
            return await self._deliver(item)
        finally:
            self._delivering.discard(item.entry_id)

    async def _deliver(self, item: persist.OutboxItem) -> Iterable[Delivery]:
        channels = {f"{index}:{channel.type}": channel for index, channel in enumerate(item.spec.channels)}
        wanted = [channel_id for channel_id in item.channel_ids if channel_id in channels]
        sent = await asyncio.to_thread(persist.already_sent, self.meta, item.notification, wanted)
        todo = [channel_id for channel_id in wanted if channel_id not in sent]
        results = await asyncio.gather(
            *(
                deliver(
                    item.notification,
                    channels[channel_id],
                    channel_id,
                    backoff_s=self.backoff_s,
                    policy=policy_for(item.spec.filters.tenant, self.channel_allow),
                )
                for channel_id in todo
            )
        )
        await asyncio.to_thread(persist.record_deliveries, self.meta, item, list(results), self.clock.now())
        return results
