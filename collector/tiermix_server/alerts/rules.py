"""Alert rules as users write them (API body, CLI file): parsed and validated here, once.

A rule names a metric (docs/architecture.md, metrics), scope filters, how to group (one alert instance per
tenant and/or
route), a window, a condition (a static threshold, or the value relative to a trailing baseline: the same
window on each of the previous ``baseline_days`` days, as a ratio or a z-score), a minimum volume below
which the instance is ``no_data``, timing (``for``, ``keep_firing_for``, ``repeat_interval``), severity and
channels. Durations are written ``30s``/``5m``/``1h``/``1d`` (a bare number means seconds) and rendered
back in the largest unit that divides them. Invalid input raises ``RuleError`` (HTTP 400) whose message
names the field: ``condition.op: must be one of >, >=, <, <=``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from tiermix_server.errors import BadRequest

Metric = Literal[
    "frontier_share",
    "cost_per_request",
    "spend",
    "escalation_rate",
    "error_rate",
    "drift_score",
    "unpriced_share",
    "over_specified_spend",
    "budget_spent_ratio",
    "budget_forecast_ratio",
    "bill_coverage",
]
METRICS: tuple[str, ...] = get_args(Metric)
GROUP_FIELDS = ("tenant", "route")
Operator = Literal[">", ">=", "<", "<="]
ConditionKind = Literal["static", "ratio", "zscore"]
Severity = Literal["info", "warning", "critical"]
# The same vocabularies as tuples: the dashboard's rule editor offers exactly these
# (tests/unit/dashboard/test_vocabulary_contract.py ties the two together).
OPERATORS: tuple[str, ...] = get_args(Operator)
CONDITION_KINDS: tuple[str, ...] = get_args(ConditionKind)
SEVERITIES: tuple[str, ...] = get_args(Severity)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RuleError(BadRequest):
    """A rule body that cannot be accepted; the message names the offending field."""

    code = "invalid_rule"


def parse_duration(value: Any) -> int:
    """``"30s"``, ``"5m"``, ``"1h"``, ``"1d"`` or a number of seconds → whole seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a string like '30s', '5m', '1h' or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS_S[match.group(2) or "s"]
    else:
        raise ValueError(f"{value!r} is not a duration: write it like '30s', '5m', '1h' or '1d'")
    if not math.isfinite(seconds) or seconds < 0 or seconds != int(seconds):
        raise ValueError(f"{value!r} must be a whole, non-negative number of seconds")
    return int(seconds)


def format_duration(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS_S[unit] == 0:
            return f"{seconds // _UNITS_S[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[int, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class WebhookChannel(_Strict):
    """POST the alert as JSON, signed with HMAC-SHA256 over the body (``X-Tiermix-Signature``)."""

    type: Literal["webhook"]
    url: str
    secret: str = Field("", description="HMAC key; generated when the rule is created without one")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(5.0, gt=0, le=60)
    max_attempts: int = Field(3, ge=1, le=10)

    _url = field_validator("url")(_http_url)


class SlackChannel(_Strict):
    """A Slack incoming webhook (the URL is the secret)."""

    type: Literal["slack"]
    url: str
    timeout_s: float = Field(5.0, gt=0, le=60)
    max_attempts: int = Field(3, ge=1, le=10)

    _url = field_validator("url")(_http_url)


class EmailChannel(_Strict):
    """Plain-text email over SMTP."""

    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    sender: str = Field("tiermix@localhost", alias="from")
    smtp_host: str = "localhost"
    smtp_port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout_s: float = Field(10.0, gt=0, le=120)
    max_attempts: int = Field(3, ge=1, le=10)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.match(r"^[^@\s]+@[^@\s]+$", address):
                raise ValueError(f"{address!r} is not an email address")
        return value


Channel = Annotated[WebhookChannel | SlackChannel | EmailChannel, Field(discriminator="type")]


class Filters(_Strict):
    """Scope: only calls matching every given field count."""

    tenant: str | None = None
    route: str | None = None
    environment: str | None = None


class Condition(_Strict):
    """``value op threshold`` (static), or the value against its trailing baseline.

    ``ratio``: value / baseline mean ``op threshold`` (``> 2`` = more than twice the usual).
    ``zscore``: (value - baseline mean) / baseline standard deviation ``op threshold``.
    """

    op: Operator
    threshold: float
    kind: ConditionKind = "static"
    baseline_days: int = Field(7, ge=1, le=28)

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    def holds(self, left: float) -> bool:
        if self.op == ">":
            return left > self.threshold
        if self.op == ">=":
            return left >= self.threshold
        if self.op == "<":
            return left < self.threshold
        return left <= self.threshold


class RuleSpec(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    metric: Metric
    group_by: tuple[Literal["tenant", "route"], ...] = ()
    filters: Filters = Filters()
    window: Duration = 300
    condition: Condition
    min_volume: int = Field(0, ge=0, description="requests in the window below which the group is no_data")
    for_s: Duration = Field(0, alias="for")
    keep_firing_for: Duration = 0
    repeat_interval: Duration = Field(4 * 3600, description="0: notify once per firing episode")
    severity: Severity = "warning"
    channels: tuple[Channel, ...] = ()
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name_is_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("group_by")
    @classmethod
    def _unique_groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists a field twice")
        return tuple(field for field in GROUP_FIELDS if field in value)  # canonical order

    @field_validator("window")
    @classmethod
    def _window_bounds(cls, value: int) -> int:
        if not 60 <= value <= 7 * 86400:
            raise ValueError("must be between 1m and 7d")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RuleSpec:
        if self.metric == "drift_score" and self.condition.kind != "static":
            raise ValueError("condition: drift_score is already relative to a baseline; use kind 'static'")
        return self

    def to_json(self) -> dict[str, Any]:
        """The stored/rendered form (aliases, durations as text)."""
        return self.model_dump(mode="json", by_alias=True)


def parse_rule(body: Any) -> RuleSpec:
    """Validate a rule body; ``RuleError`` names every problem (``field: message``)."""
    if not isinstance(body, dict):
        raise RuleError("a rule must be a JSON object")
    try:
        return RuleSpec.model_validate(body)
    except ValidationError as exc:
        raise RuleError(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        # pydantic names union members in the location ("channels.0.webhook.url"); keep the field path.
        location = ".".join(str(part) for part in error["loc"] if part not in ("webhook", "slack", "email"))
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a known field"
        elif error["type"] == "missing":
            message = "is required"
        elif error["type"] == "union_tag_invalid":
            message = "type must be one of webhook, slack, email"
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)
