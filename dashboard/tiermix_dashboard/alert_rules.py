"""Alert rules through the query API: read, normalise, and build the rule JSON the API accepts.

The rule shape of ``POST /api/v1/alerts/rules`` (docs/alerts.md): metric, group_by, filters, window,
condition, min_volume, for, severity, channels, enabled. Answers are normalised tolerantly (a list, or
``{"rules": [...]}`` / ``{"rows": [...]}``; a rule's fields flat or under ``spec``) so the page keeps
working while the alerts API settles. Writes are not cached; the caller clears the read cache after.
No Streamlit here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from tiermix_dashboard.api_client import ApiClient
from tiermix_dashboard.filters import parse_time
from tiermix_dashboard.formats import number
from tiermix_dashboard.kpis import format_value
from tiermix_dashboard.queries import frame

RULES_PATH = "/api/v1/alerts/rules"
METRICS = {
    "frontier_share": "Frontier share (0-1)",
    "cost_per_request": "Cost per request (USD)",
    "spend": "Spend in window (USD)",
    "escalation_rate": "Escalation rate (0-1)",
    "error_rate": "Error rate (0-1)",
    "drift_score": "Drift score (0-1)",
    "unpriced_share": "Unpriced share (0-1)",
    "over_specified_spend": "Over-specified spend in window (USD, estimate)",
    "budget_spent_ratio": "Budget spent (share of the budget, in its period)",
    "budget_forecast_ratio": "Budget forecast (period-end forecast / budget, estimate)",
    "bill_coverage": "Bill coverage (tracked / billed, whole days)",
}
# How a metric's value reads: a share or ratio of two amounts as a percentage, money as dollars.
SHARE_METRICS = frozenset({"frontier_share", "escalation_rate", "error_rate", "unpriced_share",
                           "budget_spent_ratio", "budget_forecast_ratio", "bill_coverage"})  # fmt: skip
MONEY_METRICS = frozenset({"cost_per_request", "spend", "over_specified_spend"})
OPS = (">", ">=", "<", "<=")
KINDS = {"static": "the value itself", "ratio": "value / trailing baseline", "zscore": "z-score vs baseline"}
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class RuleForm:
    """What the create/edit form collects; ``to_json`` renders the API body."""

    name: str
    metric: str
    threshold: float
    op: str = ">"
    kind: str = "static"
    group_by: tuple[str, ...] = ()
    tenant: str = ""
    route: str = ""
    window: str = "5m"
    for_: str = "0s"
    min_volume: int = 0
    severity: str = "warning"
    channel_type: str = ""  # "", "webhook", "slack", "email"
    channel_target: str = ""  # URL, or comma-separated addresses for email
    enabled: bool = True

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name.strip(),
            "metric": self.metric,
            "group_by": list(self.group_by),
            "filters": {
                key: value for key, value in (("tenant", self.tenant), ("route", self.route)) if value
            },
            "window": self.window,
            "condition": {"op": self.op, "threshold": self.threshold, "kind": self.kind},
            "min_volume": self.min_volume,
            "for": self.for_,
            "severity": self.severity,
            "channels": [],
            "enabled": self.enabled,
        }
        target = self.channel_target.strip()
        if self.channel_type == "email" and target:
            body["channels"] = [{"type": "email", "to": [a.strip() for a in target.split(",") if a.strip()]}]
        elif self.channel_type in ("webhook", "slack") and target:
            body["channels"] = [{"type": self.channel_type, "url": target}]
        return body


def form_from_rule(rule: Mapping[str, Any]) -> RuleForm:
    """Prefill the edit form from a rule as the API lists it (channels other than the first are kept
    out of the form; editing replaces them with what the form holds)."""
    spec = spec_of(rule)
    condition = spec.get("condition") or {}
    filters = spec.get("filters") or {}
    channels = spec.get("channels") or []
    first = channels[0] if channels else {}
    target = ", ".join(first.get("to", [])) if first.get("type") == "email" else str(first.get("url", ""))
    return RuleForm(
        name=str(spec.get("name", "")),
        metric=str(spec.get("metric", "frontier_share")),
        threshold=float(condition.get("threshold", 0.0)),
        op=str(condition.get("op", ">")),
        kind=str(condition.get("kind", "static")),
        group_by=tuple(spec.get("group_by") or ()),
        tenant=str(filters.get("tenant") or ""),
        route=str(filters.get("route") or ""),
        window=str(spec.get("window", "5m")),
        for_=str(spec.get("for", "0s")),
        min_volume=int(spec.get("min_volume", 0)),
        severity=str(spec.get("severity", "warning")),
        channel_type=str(first.get("type", "")),
        channel_target="" if target == "***" else target,
        enabled=bool(rule.get("enabled", spec.get("enabled", True))),
    )


def spec_of(rule: Mapping[str, Any]) -> dict[str, Any]:
    nested = rule.get("spec")
    return {**rule, **nested} if isinstance(nested, dict) else dict(rule)


def _items(body: Any, *names: str) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    for name in names:
        if isinstance(body, dict) and isinstance(body.get(name), list):
            return list(body[name])
    return []


def list_rules(client: ApiClient) -> list[dict[str, Any]]:
    return _items(client.get(RULES_PATH), "rules", "rows")


RULE_TABLE_HEADINGS = {"id": "Id", "name": "Name", "enabled": "Enabled", "metric": "Metric",
                       "condition": "Condition", "group_by": "One alert per", "scope": "Scope",
                       "window": "Window", "for": "For", "min_volume": "Minimum requests",
                       "severity": "Severity", "channels": "Channels"}  # fmt: skip


def rules_table(rules: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for rule in rules:
        spec = spec_of(rule)
        condition = spec.get("condition") or {}
        rows.append(
            {
                "id": rule.get("id"),
                "name": spec.get("name"),
                "enabled": bool(rule.get("enabled", True)),
                "metric": METRICS.get(str(spec.get("metric")), spec.get("metric")),
                "condition": describe_condition(condition, str(spec.get("metric", ""))),
                "group_by": ", ".join(spec.get("group_by") or []) or "-",
                "scope": ", ".join(f"{k}={v}" for k, v in (spec.get("filters") or {}).items() if v) or "all",
                "window": spec.get("window"),
                "for": spec.get("for"),
                "min_volume": spec.get("min_volume"),
                "severity": spec.get("severity"),
                "channels": ", ".join(str(c.get("type")) for c in spec.get("channels") or []) or "none",
            }
        )
    return frame(rows, list(RULE_TABLE_HEADINGS))


def describe_condition(condition: Mapping[str, Any], metric: str = "") -> str:
    kind = str(condition.get("kind", "static"))
    subject = {"ratio": "value / baseline", "zscore": "z-score"}.get(kind, "value")
    threshold = value_text(condition.get("threshold"), metric, kind)
    return f"{subject} {condition.get('op', '?')} {threshold}"


def value_text(value: Any, metric: str, kind: str = "static") -> str:
    """A rule's value or threshold as the rest of the dashboard writes that metric: 0.4 → "40.0%"."""
    amount = number(value)
    if amount is None:
        return "n/a"
    if kind == "ratio":
        return f"{amount:.2f}x baseline"
    if kind == "zscore":
        return f"z = {amount:.2f}"
    if metric in SHARE_METRICS or metric in MONEY_METRICS:
        return format_value(amount, "share" if metric in SHARE_METRICS else "money")
    return f"{amount:.3f}"


def metric_of_rules(rules: list[dict[str, Any]]) -> dict[Any, tuple[str, str]]:
    """rule id → (metric, condition kind), to write each alert's value in its metric's unit."""
    found = {}
    for rule in rules:
        spec = spec_of(rule)
        kind = str((spec.get("condition") or {}).get("kind", "static"))
        found[rule.get("id")] = (str(spec.get("metric", "")), kind)
    return found


STATE_COLUMNS = ("rule", "group", "state", "value", "volume", "pending_since", "firing_since",
                 "last_evaluated_at")  # fmt: skip
_STATE_ORDER = {"firing": 0, "pending": 1, "no_data": 2, "resolved": 3, "ok": 4}


def states(client: ApiClient, rules: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """One row per alert instance (rule x group), firing first; ``value`` written in its metric's unit
    (``value_text``) when the rules are given; ``tenant`` is the group's tenant, if it has one."""
    rows = _items(client.get("/api/v1/alerts/states"), "states", "rows")
    times = ["pending_since", "firing_since", "last_evaluated_at"]
    data = frame(rows, [*STATE_COLUMNS, "rule_id"], times=times)
    data["tenant"] = data["group"].map(lambda group: group.get("tenant") if isinstance(group, dict) else None)
    data["group"] = data["group"].map(_group_text)
    if rules is not None:
        metrics = metric_of_rules(rules)
        data["value"] = [
            value_text(value, *metrics.get(rule_id, ("", "static")))
            for value, rule_id in zip(data["value"], data["rule_id"], strict=True)
        ]
    data = data.assign(_order=data["state"].map(_STATE_ORDER).fillna(9))
    return data.sort_values(["_order", "rule", "group"], ignore_index=True)[
        [*STATE_COLUMNS, "tenant", "rule_id"]
    ]


def events(client: ApiClient, since: datetime, rules: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    body = client.get("/api/v1/alerts/events", {"since": since.isoformat(), "limit": 500})
    data = frame(
        _items(body, "events", "rows"),
        ["ts", "rule_id", "rule", "group", "from", "to", "value", "threshold"],
        times=["ts"],
    )
    data["group"] = data["group"].map(_group_text)
    data["instance"] = data["rule"].astype(str) + " · " + data["group"].astype(str)
    metrics = metric_of_rules(rules or [])
    data["summary"] = [
        f"{before} → {after} (value {value_text(value, *metrics.get(rule_id, ('', 'static')))}, "
        f"threshold {value_text(threshold, *metrics.get(rule_id, ('', 'static')))})"
        for before, after, value, threshold, rule_id in zip(
            data["from"], data["to"], data["value"], data["threshold"], data["rule_id"], strict=True
        )
    ]
    return data


def state_spans(
    history: pd.DataFrame,
    current: pd.DataFrame,
    start: datetime,
    end: datetime,
    rules: list[dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """Each alert instance's states over ``[start, end)`` as spans (row, state, start, end, text).

    An instance holds the state its first change in the range left (``from``) until that change, each
    changed-to state until the next change, the last one until ``end``; an instance that did not change
    in the range held its current state throughout. Nothing is drawn before its rule was created.
    """
    created = {rule.get("id"): parse_time(str(rule.get("created_at") or "")) for rule in rules or []}

    def since(rule_id: Any) -> datetime:
        made = created.get(rule_id)
        return max(start, made) if made is not None else start

    spans: list[dict[str, Any]] = []
    changed = set()
    ordered = history.sort_values("ts") if not history.empty else history
    for instance, changes in ordered.groupby("instance", sort=False) if not ordered.empty else []:
        changed.add(instance)
        held_from = min(since(changes["rule_id"].iloc[0]), changes["ts"].iloc[0].to_pydatetime())
        state, text = str(changes["from"].iloc[0]), "before the first change in range"
        for ts, after, summary in zip(changes["ts"], changes["to"], changes["summary"], strict=True):
            spans.append(_span(instance, state, held_from, ts, text))
            held_from, state, text = ts, str(after), summary
        spans.append(_span(instance, state, held_from, end, text))
    for _, row in current.iterrows():
        instance = f"{row['rule']} · {row['group']}"
        if instance not in changed:
            spans.append(
                _span(instance, str(row["state"]), since(row["rule_id"]), end, "no change in this range")
            )
    return frame(spans, ["row", "state", "start", "end", "text"])


def activity_start(spans: pd.DataFrame, start: datetime, end: datetime) -> datetime:
    """Where the timeline's axis should start: the range start, or, when every rule was created in the
    last part of the range, a little before the earliest band (a week-long axis would squeeze ten
    minutes of alerts into a hairline at its right edge)."""
    if spans.empty:
        return start
    earliest = pd.Timestamp(spans["start"].min()).to_pydatetime()
    if earliest - start <= (end - start) / 2:
        return start
    return max(start, earliest - (end - earliest) / 10)


def _span(row: Any, state: str, start: Any, end: Any, why: str) -> dict[str, Any]:
    begun, ended = pd.Timestamp(start), pd.Timestamp(end)
    text = f"{row}<br>{state}: {begun:%m-%d %H:%M} to {ended:%m-%d %H:%M} UTC<br>{why}"
    return {"row": str(row), "state": state, "start": begun, "end": ended, "text": text}


def create_rule(client: ApiClient, form: RuleForm) -> Any:
    return client.post(RULES_PATH, form.to_json())


def update_rule(client: ApiClient, rule: Mapping[str, Any], form: RuleForm) -> Any:
    """Replace a rule. Channels come back redacted (secrets as ``***``); the API keeps the stored
    secrets for redacted values, so a form left with an empty target keeps the rule's channels."""
    body = form.to_json()
    original = spec_of(rule).get("channels") or []
    if not form.channel_target.strip() and original and original[0].get("type") == form.channel_type:
        body["channels"] = original
    return client.put(f"{RULES_PATH}/{rule.get('id')}", body)


def set_enabled(client: ApiClient, rule: Mapping[str, Any], enabled: bool) -> Any:
    return client.patch(f"{RULES_PATH}/{rule.get('id')}", {"enabled": enabled})


def delete_rule(client: ApiClient, rule_id: Any) -> Any:
    return client.delete(f"{RULES_PATH}/{rule_id}")


def silence(client: ApiClient, rule_id: Any, duration: str, comment: str) -> Any:
    """Silence every group of a rule for ``duration`` (``1h``, ``1d``) from now."""
    return client.post(
        "/api/v1/alerts/silences", {"rule_id": rule_id, "duration": duration, "comment": comment}
    )


def _group_text(group: Any) -> str:
    if isinstance(group, dict):
        return ", ".join(f"{key}={value}" for key, value in group.items()) or "all"
    return str(group) if group not in (None, "") else "all"
