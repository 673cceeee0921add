"""Run the demo: backfill history as fast as the collector takes it, then live traffic in real time.

The anchor (default: now) splits the two. Backfill sends every request in ``[anchor - days, anchor)``
with its simulated timestamps (the last half hour first, see ``backfill_segments``). Live traffic then
starts at the anchor, so the time the backfill took is caught up at once and the history has no gap;
after that each request is sent when its last attempt has ended in wall-clock time. The clock and the
stop event are injected, so tests drive time.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TextIO

from tiermix_server.demo.cascade import DemoRequest
from tiermix_server.demo.progress import Progress
from tiermix_server.demo.scenario import DAY_NS, MINUTE_NS, NS_PER_S, Scenario
from tiermix_server.demo.sender import Sender
from tiermix_server.demo.traffic import TrafficModel

DEFAULT_RATE_PER_S = 0.3  # a week is ~210k calls: backfilled in about a minute
DEFAULT_SEED = 7
RECENT_FIRST_NS = 30 * MINUTE_NS


@dataclass(frozen=True, slots=True)
class DemoPlan:
    rate_per_s: float = DEFAULT_RATE_PER_S
    backfill_days: float = 0.0
    duration_s: float | None = None  # live traffic after the backfill; None: until stopped
    seed: int = DEFAULT_SEED
    anchor_ns: int | None = None  # default: the wall clock when the run starts
    tick_s: float = 0.2


@dataclass(slots=True)
class DemoStats:
    backfill_requests: int = 0
    backfill_calls: int = 0
    live_requests: int = 0
    live_calls: int = 0


def utc(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS_PER_S, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def describe(scenario: Scenario) -> list[str]:
    lines = []
    for event in scenario.events:
        until = f" until {utc(event.end_ns)}" if event.end_ns is not None else " onwards"
        lines.append(f"  {utc(event.start_ns)}{until}: {event.describe()}")
    return lines


def run(
    plan: DemoPlan,
    sender: Sender,
    *,
    clock_ns: Callable[[], int] = time.time_ns,
    stop: threading.Event | None = None,
    stream: TextIO | None = None,
    show_progress: bool = True,
) -> DemoStats:
    stop = stop if stop is not None else threading.Event()
    anchor_ns = plan.anchor_ns if plan.anchor_ns is not None else clock_ns()
    model = TrafficModel(plan.seed, plan.rate_per_s, Scenario.default(anchor_ns))
    stats = DemoStats()
    if stream is not None:
        stream.write("tiermix demo: scripted events\n" + "\n".join(describe(model.scenario)) + "\n")
        stream.flush()
    if plan.backfill_days > 0 and not stop.is_set():
        start_ns = anchor_ns - int(plan.backfill_days * DAY_NS)
        progress = Progress(
            f"backfill {plan.backfill_days:g}d",
            model.expected_requests(start_ns, anchor_ns),
            stream=stream,
            enabled=show_progress,
        )
        for segment_start, segment_end in backfill_segments(start_ns, anchor_ns):
            for request in model.between(segment_start, segment_end):
                if stop.is_set():
                    break
                if request.end_ns > anchor_ns:
                    continue  # still running at the anchor: the live phase sends it once it has ended
                sender.send(request)
                stats.backfill_requests += 1
                progress.update(stats.backfill_requests, sender.calls_sent)
        sender.flush()
        stats.backfill_calls = sender.calls_sent
        progress.update(stats.backfill_requests, stats.backfill_calls, force=True)
        progress.finish("done")
    if plan.duration_s is None or plan.duration_s > 0:
        _live(plan, model, anchor_ns, sender, stats, clock_ns, stop, stream, show_progress)
    return stats


LOOKBACK_NS = 5 * MINUTE_NS  # far longer than any demo request's attempts take


def backfill_segments(start_ns: int, anchor_ns: int) -> list[tuple[int, int]]:
    """The last ``RECENT_FIRST_NS`` of the range first, then the rest from the oldest on.

    Alerts and the dashboard's default views look at the present: sending it first lets the scripted
    spike's alert start evaluating while the older history is still loading.
    """
    split_ns = max(start_ns, anchor_ns - RECENT_FIRST_NS)
    segments = [(split_ns, anchor_ns)]
    if split_ns > start_ns:
        segments.append((start_ns, split_ns))
    return segments


def _live(
    plan: DemoPlan,
    model: TrafficModel,
    anchor_ns: int,
    sender: Sender,
    stats: DemoStats,
    clock_ns: Callable[[], int],
    stop: threading.Event,
    stream: TextIO | None,
    show_progress: bool,
) -> None:
    started_ns = clock_ns()
    deadline_ns = None if plan.duration_s is None else started_ns + int(plan.duration_s * NS_PER_S)
    calls_before = sender.calls_sent
    progress = Progress("live", stream=stream, enabled=show_progress)
    pending: list[tuple[int, int, DemoRequest]] = []  # (end_ns, sequence, request): sent once ended
    arrivals = _arrivals(model, anchor_ns)
    upcoming = next(arrivals)
    sequence = 0
    while not stop.is_set():
        now = clock_ns()
        if deadline_ns is not None and now >= deadline_ns:
            break
        while upcoming.ts_ns <= now:
            heapq.heappush(pending, (upcoming.end_ns, sequence, upcoming))
            sequence += 1
            upcoming = next(arrivals)
        while pending and pending[0][0] <= now:
            sender.send(heapq.heappop(pending)[2])
            stats.live_requests += 1
        stats.live_calls = sender.calls_sent - calls_before
        progress.update(stats.live_requests, stats.live_calls)
        stop.wait(plan.tick_s)
    # Requests already started when the run ends are still sent: their calls happened.
    while pending:
        sender.send(heapq.heappop(pending)[2])
        stats.live_requests += 1
    sender.flush()
    stats.live_calls = sender.calls_sent - calls_before
    progress.update(stats.live_requests, stats.live_calls, force=True)
    progress.finish("stopped")


def _arrivals(model: TrafficModel, anchor_ns: int) -> Iterator[DemoRequest]:
    """Requests that end after ``anchor_ns``, for ever, in start order, generated a minute at a time.

    The backfill sends the requests that ended by the anchor, this phase the rest — including those
    that started before the anchor and were still running — so no call is sent before it happened
    (a backfilled call dated after "now" made the dashboard's last bucket and its tests flaky).
    """
    minute = (anchor_ns - LOOKBACK_NS) // MINUTE_NS
    while True:
        for request in model.minute(minute):
            if request.end_ns > anchor_ns and request.ts_ns >= anchor_ns - LOOKBACK_NS:
                yield request
        minute += 1
