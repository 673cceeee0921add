"""What a notification says: a value built from a rule's state change, the same for every channel.

A ``Notification`` carries the rule, the group, the numbers, the threshold and a link to the dashboard
view with the rule's filters and the group as query parameters. Its ``fingerprint`` (rule, group,
episode start, kind, repeat number, channel) is the dedup key the evaluator stores before sending, so
an evaluator restarted at any moment never sends the same notification twice. Channels
(alerts/channels/*) render it; alerts/notify.py delivers it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tiermix_server.alerts.rules import RuleSpec

_PERCENT_METRICS = ("frontier_share", "escalation_rate", "error_rate", "unpriced_share")
_USD_METRICS = ("cost_per_request", "spend")


class ChannelError(Exception):
    """A channel refused or could not take a notification; ``retryable`` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


def encode_group(group: dict[str, str]) -> str:
    """A group as a stable, readable key: ``route=support.answer&tenant=acme`` ("" when ungrouped)."""
    return urlencode(sorted(group.items()))


def decode_group(group_key: str) -> dict[str, str]:
    return dict(parse_qsl(group_key, keep_blank_values=True))


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if metric in _PERCENT_METRICS:
        return f"{value * 100:.1f}%"
    if metric in _USD_METRICS:
        return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"
    return f"{value:.3f}"


@dataclass(frozen=True, slots=True)
class Notification:
    kind: str  # firing | repeat | resolved | test
    rule_id: int
    rule_name: str
    metric: str
    severity: str
    group: dict[str, str]
    value: float | None  # the metric in the window
    compared: float | None  # what the condition compared: the value, its ratio or z-score to the baseline
    baseline: float | None  # baseline mean (relative conditions)
    op: str
    threshold: float
    condition_kind: str
    volume: int
    window_s: int
    at: datetime
    episode_start: datetime | None
    dashboard_url: str
    repeat: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self, channel_id: str) -> str:
        episode = self.episode_start.isoformat() if self.episode_start else self.at.isoformat()
        parts = (
            str(self.rule_id),
            encode_group(self.group),
            episode,
            self.kind,
            str(self.repeat),
            channel_id,
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    @property
    def title(self) -> str:
        state = {"firing": "FIRING", "repeat": "STILL FIRING", "resolved": "RESOLVED", "test": "TEST"}
        group = ", ".join(f"{key}={value}" for key, value in sorted(self.group.items())) or "all traffic"
        return f"[{state.get(self.kind, self.kind.upper())}] {self.rule_name} ({group})"

    @property
    def summary(self) -> str:
        metric = self.metric.replace("_", " ")
        value = format_value(self.metric, self.value)
        window = f"over the last {_human(self.window_s)}"
        baseline = format_value(self.metric, self.baseline)
        if self.condition_kind == "static":
            rule = f"{self.op} {format_value(self.metric, self.threshold)}"
        elif self.condition_kind == "ratio":
            rule = f"{_num(self.compared)}x its baseline {baseline}, {self.op} {self.threshold:g}x"
        else:
            rule = f"z-score {_num(self.compared)} vs baseline {baseline}, {self.op} {self.threshold:g}"
        if self.kind == "test":
            return f"test notification: this rule alerts when {metric} {window} is {rule}"
        if self.kind == "resolved" and self.value is None:
            return f"{metric}: no data {window} ({self.volume} requests), so the alert ends"
        verb = "is back within" if self.kind == "resolved" else "breaches"
        return f"{metric} {value} {window} ({self.volume} requests) {verb} the condition: {rule}"

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        for name in ("value", "compared", "baseline"):
            if body[name] is not None and not math.isfinite(body[name]):
                body[name] = None  # JSON has no infinity (a ratio to a zero baseline)
        body["at"] = self.at.isoformat()
        body["episode_start"] = self.episode_start.isoformat() if self.episode_start else None
        body["window"] = _human(self.window_s)
        body["title"] = self.title
        body["summary"] = self.summary
        return {"version": 1, **body}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Notification:
        known = {name: body[name] for name in cls.__dataclass_fields__ if name in body}
        known["at"] = datetime.fromisoformat(body["at"])
        episode = body.get("episode_start")
        known["episode_start"] = datetime.fromisoformat(episode) if episode else None
        return cls(**known)


def dashboard_link(base_url: str, spec: RuleSpec, group: dict[str, str], at: datetime) -> str:
    """The dashboard view of the alert: its scope and group, over the hour (or 6 windows) before ``at``.

    Parameter names are the dashboard's own URL form (``tiermix_dashboard.filters``): ``range=custom``
    with ``start``/``end``, and ``tenant``, ``route``, ``env``.
    """
    scope = {**spec.filters.model_dump(), **group}
    params: dict[str, str] = {"range": "custom"}
    start = at - timedelta(seconds=max(spec.window * 6, 3600))
    params["start"] = start.isoformat().replace("+00:00", "Z")
    params["end"] = at.isoformat().replace("+00:00", "Z")
    for name, param in (("tenant", "tenant"), ("route", "route"), ("environment", "env")):
        if scope.get(name):
            params[param] = scope[name]
    return f"{base_url.rstrip('/')}/?{urlencode(params)}"


def _human(seconds: int) -> str:
    from tiermix_server.alerts.rules import format_duration

    return format_duration(seconds)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
