"""The demo runner (backfill then live, driven by an injected clock) and its progress line."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timezone

from tiermix_server.demo.cascade import DemoRequest
from tiermix_server.demo.progress import Progress
from tiermix_server.demo.runner import LOOKBACK_NS, DemoPlan, run
from tiermix_server.demo.scenario import DAY_NS, HOUR_NS, NS_PER_S, Scenario
from tiermix_server.demo.traffic import TrafficModel

ANCHOR_NS = int(datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc).timestamp()) * NS_PER_S


class RecordingSender:
    """Keeps what it is given (the real sender is exercised in tests/integration/demo)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.requests: list[DemoRequest] = []
        self.sent_at: list[int] = []
        self.calls_sent = 0
        self.flushes = 0
        self._clock = clock

    def send(self, request: DemoRequest) -> None:
        self.requests.append(request)
        self.sent_at.append(self._clock() if self._clock else 0)
        self.calls_sent += len(request.attempts)

    def flush(self) -> bool:
        self.flushes += 1
        return True

    def close(self) -> None:
        pass


class FakeClock:
    """Wall clock in ns that advances only when the runner waits on its stop event."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


class AdvancingStop(threading.Event):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        self.clock.now_ns += int((timeout or 0) * NS_PER_S)
        return self.is_set()


def test_backfill_sends_the_last_half_hour_first_then_every_older_request_in_order() -> None:
    sender = RecordingSender()
    plan = DemoPlan(rate_per_s=0.2, backfill_days=2, duration_s=0, seed=5, anchor_ns=ANCHOR_NS)
    stats = run(plan, sender, show_progress=False)
    stamps = [r.ts_ns for r in sender.requests]
    split = ANCHOR_NS - 30 * 60 * NS_PER_S
    recent = [t for t in stamps if t >= split]
    assert stamps[: len(recent)] == sorted(recent)  # the present first: alerts can evaluate sooner
    older = stamps[len(recent) :]
    assert older == sorted(older) and older[-1] < split
    assert ANCHOR_NS - 2 * DAY_NS <= older[0] < ANCHOR_NS - 2 * DAY_NS + HOUR_NS
    assert split <= recent[0] and recent[-1] < ANCHOR_NS
    model = TrafficModel(5, 0.2, Scenario.default(ANCHOR_NS))
    expected = [r for r in model.between(ANCHOR_NS - 2 * DAY_NS, ANCHOR_NS) if r.end_ns <= ANCHOR_NS]
    assert sorted(stamps) == [r.ts_ns for r in expected]  # only what ended by the anchor
    assert all(r.end_ns <= ANCHOR_NS for r in sender.requests)  # nothing dated after "now"
    assert stats.backfill_requests == len(sender.requests) and stats.backfill_calls == sender.calls_sent
    assert stats.live_requests == 0 and sender.flushes >= 1


def test_live_traffic_is_sent_once_each_request_has_ended_and_stops_after_the_duration() -> None:
    clock = FakeClock(ANCHOR_NS)
    sender = RecordingSender(clock)
    plan = DemoPlan(rate_per_s=2.0, duration_s=600, seed=5, anchor_ns=ANCHOR_NS, tick_s=1.0)
    stats = run(plan, sender, clock_ns=clock, stop=AdvancingStop(clock), show_progress=False)
    assert stats.backfill_requests == 0
    assert stats.live_requests == len(sender.requests) > 600
    deadline_ns = ANCHOR_NS + 600 * NS_PER_S
    early = [(r, sent) for r, sent in zip(sender.requests, sender.sent_at, strict=True) if sent < r.end_ns]
    # Only the requests still running at the deadline are sent before they end: on the way out.
    assert all(sent >= deadline_ns and r.ts_ns < deadline_ns for r, sent in early)
    assert len(early) < len(sender.requests) / 10
    # Requests still running at the anchor belong here, not to the backfill: started before, ended after.
    assert all(
        ANCHOR_NS - LOOKBACK_NS <= r.ts_ns < ANCHOR_NS + 601 * NS_PER_S and r.end_ns > ANCHOR_NS
        for r in sender.requests
    )


def test_live_traffic_catches_up_from_the_anchor_after_a_backfill() -> None:
    clock = FakeClock(ANCHOR_NS + 300 * NS_PER_S)  # the backfill took five minutes
    sender = RecordingSender(clock)
    plan = DemoPlan(rate_per_s=1.0, duration_s=1, seed=2, anchor_ns=ANCHOR_NS, tick_s=0.5)
    run(plan, sender, clock_ns=clock, stop=AdvancingStop(clock), show_progress=False)
    first = min(sender.requests, key=lambda r: r.ts_ns)
    # No gap between history and live: the first live request is one still running at the anchor or
    # one that started right after it.
    assert first.end_ns > ANCHOR_NS and ANCHOR_NS - LOOKBACK_NS <= first.ts_ns < ANCHOR_NS + 30 * NS_PER_S


def test_a_stop_request_ends_the_live_loop() -> None:
    clock = FakeClock(ANCHOR_NS)
    stop = AdvancingStop(clock)
    stop.set()
    sender = RecordingSender(clock)
    stats = run(
        DemoPlan(duration_s=None, anchor_ns=ANCHOR_NS), sender, clock_ns=clock, stop=stop, show_progress=False
    )
    assert stats.live_requests == 0


def test_the_run_announces_its_scripted_events() -> None:
    stream = io.StringIO()
    run(DemoPlan(duration_s=0, anchor_ns=ANCHOR_NS), RecordingSender(), stream=stream, show_progress=False)
    text = stream.getvalue()
    assert "frontier-share spike on tenant globex" in text
    assert "2026-11-18 11:50 UTC until 2026-11-18 12:30 UTC" in text
    assert "routing drift on route support.answer" in text and "new model gpt-5-mini" in text


def test_progress_on_a_pipe_writes_whole_lines_at_an_interval_with_rate_and_eta() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = Progress("backfill 7d", 1000, stream=stream, clock=lambda: now[0], log_every_s=10)
    for step in range(1, 31):
        now[0] = step
        progress.update(step * 10, step * 12)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # at 1 s, 11 s, 21 s
    assert lines[-1] == "backfill 7d: [#####-------------------]  21% 252 calls, 12 calls/s, ETA 79s"
    progress.finish("done")
    assert stream.getvalue().splitlines()[-1].endswith("— done")


def test_progress_on_a_terminal_redraws_one_line() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    now = [0.0]
    progress = Progress("live", stream=stream, clock=lambda: now[0])
    for step in range(1, 4):
        now[0] = step
        progress.update(step, step * 2)
    progress.finish()
    assert "\n" not in stream.getvalue()[:-1] and stream.getvalue().count("\r") == 4
    assert "6 calls (3 requests), 2.0 calls/s" in stream.getvalue()
