"""Every transition of the alert instance state machine, driven by an explicit clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tiermix_server.alerts.state import (
    InstanceState,
    NotificationKind,
    Observation,
    Status,
    Step,
    Timing,
    step,
)

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
BREACH = Observation(has_data=True, breached=True, value=0.5, volume=100)
HEALTHY = Observation(has_data=True, breached=False, value=0.1, volume=100)
NO_DATA = Observation(has_data=False, breached=False, value=None, volume=3)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(timing: Timing, script: list[tuple[float, Observation]], *, silenced_at: tuple[float, ...] = ()):
    """Feed observations in order; return every step."""
    state = InstanceState()
    steps: list[Step] = []
    for seconds, observation in script:
        result = step(state, observation, timing, at(seconds), silenced=seconds in silenced_at)
        steps.append(result)
        state = result.state
    return steps


def statuses(steps: list[Step]) -> list[str]:
    return [s.state.status.value for s in steps]


def notes(steps: list[Step]) -> list[str | None]:
    return [s.notify.value if s.notify else None for s in steps]


def test_breach_without_for_fires_at_once_and_notifies_once():
    steps = run(Timing(), [(0, BREACH), (30, BREACH), (60, BREACH)])
    assert statuses(steps) == ["firing", "firing", "firing"]
    assert notes(steps) == ["firing", None, None]


def test_breach_is_pending_until_for_has_elapsed():
    steps = run(Timing(for_s=120), [(0, BREACH), (60, BREACH), (119, BREACH), (120, BREACH)])
    assert statuses(steps) == ["pending", "pending", "pending", "firing"]
    assert notes(steps) == [None, None, None, "firing"]
    assert steps[-1].state.firing_since == at(120)


def test_pending_goes_back_to_ok_without_notifying_when_the_breach_stops():
    steps = run(Timing(for_s=120), [(0, BREACH), (60, HEALTHY), (90, BREACH), (180, BREACH), (210, BREACH)])
    assert statuses(steps) == ["pending", "ok", "pending", "pending", "firing"]
    assert notes(steps) == [None, None, None, None, "firing"]


def test_firing_resolves_on_the_first_healthy_evaluation_and_notifies_resolved():
    steps = run(Timing(), [(0, BREACH), (30, HEALTHY), (60, HEALTHY)])
    assert statuses(steps) == ["firing", "resolved", "ok"]
    assert notes(steps) == ["firing", "resolved", None]


def test_keep_firing_for_holds_firing_through_a_short_dip():
    timing = Timing(keep_firing_for_s=120)
    steps = run(
        timing, [(0, BREACH), (30, HEALTHY), (90, HEALTHY), (120, BREACH), (200, HEALTHY), (240, HEALTHY)]
    )
    assert statuses(steps) == ["firing", "firing", "firing", "firing", "firing", "resolved"]
    assert notes(steps) == ["firing", None, None, None, None, "resolved"]


def test_repeat_interval_renotifies_while_firing():
    steps = run(
        Timing(repeat_interval_s=300),
        [(0, BREACH), (200, BREACH), (300, BREACH), (500, BREACH), (600, BREACH)],
    )
    assert notes(steps) == ["firing", None, "repeat", None, "repeat"]
    assert steps[-1].state.repeats == 2


def test_zero_repeat_interval_never_repeats():
    steps = run(Timing(repeat_interval_s=0), [(0, BREACH), (86400, BREACH)])
    assert notes(steps) == ["firing", None]


def test_volume_under_minimum_is_no_data_from_ok_and_from_pending():
    steps = run(Timing(for_s=60), [(0, NO_DATA), (30, BREACH), (60, NO_DATA), (90, HEALTHY)])
    assert statuses(steps) == ["no_data", "pending", "no_data", "ok"]
    assert steps[2].state.pending_since is None  # pending starts over after a gap
    assert notes(steps) == [None, None, None, None]


def test_firing_without_data_ends_as_no_data_with_a_resolved_notification():
    steps = run(Timing(keep_firing_for_s=60), [(0, BREACH), (30, NO_DATA), (60, NO_DATA), (90, NO_DATA)])
    assert statuses(steps) == ["firing", "firing", "no_data", "no_data"]
    assert notes(steps) == ["firing", None, "resolved", None]


def test_resolved_fires_again_on_a_new_breach_with_a_new_episode():
    steps = run(Timing(), [(0, BREACH), (30, HEALTHY), (60, BREACH)])
    assert statuses(steps) == ["firing", "resolved", "firing"]
    assert notes(steps) == ["firing", "resolved", "firing"]
    assert steps[0].state.firing_since == at(0) and steps[2].state.firing_since == at(60)


def test_silence_suppresses_firing_and_its_resolution():
    steps = run(Timing(), [(0, BREACH), (30, BREACH), (60, HEALTHY)], silenced_at=(0, 30, 60))
    assert statuses(steps) == ["firing", "firing", "resolved"]
    assert notes(steps) == [None, None, None]


def test_firing_hidden_by_an_expired_silence_is_notified_then():
    steps = run(
        Timing(repeat_interval_s=3600),
        [(0, BREACH), (30, BREACH), (60, BREACH), (90, HEALTHY)],
        silenced_at=(0, 30),
    )
    assert notes(steps) == [None, None, "firing", "resolved"]


def test_silence_during_firing_suppresses_repeats_and_the_resolved_message():
    steps = run(
        Timing(repeat_interval_s=60), [(0, BREACH), (60, BREACH), (120, HEALTHY)], silenced_at=(60, 120)
    )
    assert notes(steps) == ["firing", None, None]
    assert statuses(steps)[-1] == "resolved"


def test_transition_flag_and_since_track_status_changes():
    steps = run(Timing(for_s=60), [(0, BREACH), (30, BREACH), (60, BREACH)])
    assert [s.transitioned for s in steps] == [True, False, True]
    assert steps[0].state.since == at(0) and steps[2].state.since == at(60)


def test_values_are_carried_on_every_step():
    result = step(InstanceState(), HEALTHY, Timing(), T0)
    assert result.state.status is Status.OK and result.state.value == 0.1 and result.state.volume == 100
    assert result.notify is None
    assert NotificationKind.RESOLVED.value == "resolved"
