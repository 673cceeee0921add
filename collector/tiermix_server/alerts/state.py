"""The state machine of one alert instance (a rule and a group), as a pure function of time.

    ok ──breach──► pending ──breach for ``for``──► firing ──healthy for ``keep_firing_for``──► resolved
     ▲               │ healthy                       │ no data for ``keep_firing_for``          │
     └───────────────┘                               ▼                                          ▼
                                   no_data (volume under ``min_volume``) ◄── from any state; healthy → ok

Notifications: ``firing`` once per episode (when the instance starts firing, or later if a silence hid
it), ``repeat`` every ``repeat_interval`` while firing, ``resolved`` when an episode whose firing was
notified ends. A silence suppresses all three without changing states, like Alertmanager: an episode
whose firing was silenced ends without a resolved message, and one still firing when its silence
expires is notified then. ``step`` never reads a clock: ``now`` is an argument.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime


class Status(str, enum.Enum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"
    NO_DATA = "no_data"


class NotificationKind(str, enum.Enum):
    FIRING = "firing"
    REPEAT = "repeat"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Timing:
    for_s: int = 0
    keep_firing_for_s: int = 0
    repeat_interval_s: int = 0  # 0: never repeat


@dataclass(frozen=True, slots=True)
class Observation:
    """What one evaluation measured for the group. ``has_data`` is False under the minimum volume."""

    has_data: bool
    breached: bool
    value: float | None = None
    volume: int = 0


@dataclass(frozen=True, slots=True)
class InstanceState:
    status: Status = Status.OK
    since: datetime | None = None  # when ``status`` was entered
    pending_since: datetime | None = None
    firing_since: datetime | None = None  # start of the current firing episode (part of fingerprints)
    last_breach_at: datetime | None = None
    last_notified_at: datetime | None = None
    notified: bool = False  # the current episode's firing notification went out
    repeats: int = 0  # repeat notifications sent in this episode
    value: float | None = None
    volume: int = 0


@dataclass(frozen=True, slots=True)
class Step:
    previous: InstanceState
    state: InstanceState
    notify: NotificationKind | None = None

    @property
    def transitioned(self) -> bool:
        return self.previous.status is not self.state.status


def step(
    previous: InstanceState,
    observation: Observation,
    timing: Timing,
    now: datetime,
    *,
    silenced: bool = False,
) -> Step:
    """The next state of an instance after ``observation`` at ``now`` (pure)."""
    current = replace(previous, value=observation.value, volume=observation.volume)
    status = previous.status
    if status is Status.FIRING:
        return _from_firing(previous, current, observation, timing, now, silenced)
    if not observation.has_data:
        if status is Status.NO_DATA:
            return Step(previous, current)
        return Step(previous, _enter(current, Status.NO_DATA, now))
    if not observation.breached:
        if status is Status.OK:
            return Step(previous, current)
        return Step(previous, _enter(current, Status.OK, now))
    # breached, not firing yet
    if status is Status.PENDING:
        assert previous.pending_since is not None
        if (now - previous.pending_since).total_seconds() < timing.for_s:
            return Step(previous, replace(current, last_breach_at=now))
        return _fire(previous, current, now, silenced)
    if timing.for_s > 0:
        pending = _enter(current, Status.PENDING, now)
        return Step(previous, replace(pending, pending_since=now, last_breach_at=now))
    return _fire(previous, replace(current, pending_since=now), now, silenced)


def _enter(state: InstanceState, status: Status, now: datetime) -> InstanceState:
    """Enter a non-firing status: the episode bookkeeping starts over."""
    return replace(
        state,
        status=status,
        since=now,
        pending_since=None,
        firing_since=None,
        notified=False,
        repeats=0,
    )


def _fire(previous: InstanceState, current: InstanceState, now: datetime, silenced: bool) -> Step:
    firing = replace(
        current,
        status=Status.FIRING,
        since=now,
        firing_since=now,
        last_breach_at=now,
        notified=False,
        repeats=0,
    )
    if silenced:
        return Step(previous, firing)
    return Step(previous, replace(firing, notified=True, last_notified_at=now), NotificationKind.FIRING)


def _from_firing(
    previous: InstanceState,
    current: InstanceState,
    observation: Observation,
    timing: Timing,
    now: datetime,
    silenced: bool,
) -> Step:
    if observation.has_data and observation.breached:
        current = replace(current, last_breach_at=now)
    else:
        last_breach = previous.last_breach_at or previous.since or now
        if (now - last_breach).total_seconds() >= timing.keep_firing_for_s:
            ended = Status.RESOLVED if observation.has_data else Status.NO_DATA
            tell = previous.notified and not silenced
            resolved = _enter(current, ended, now)
            if tell:
                resolved = replace(resolved, last_notified_at=now)
            return Step(previous, resolved, NotificationKind.RESOLVED if tell else None)
    if silenced:
        return Step(previous, current)
    if not previous.notified:  # the firing was silenced and the silence is over
        return Step(previous, replace(current, notified=True, last_notified_at=now), NotificationKind.FIRING)
    last = previous.last_notified_at
    repeat_s = timing.repeat_interval_s
    if repeat_s > 0 and last is not None and (now - last).total_seconds() >= repeat_s:
        return Step(
            previous,
            replace(current, last_notified_at=now, repeats=previous.repeats + 1),
            NotificationKind.REPEAT,
        )
    return Step(previous, current)
