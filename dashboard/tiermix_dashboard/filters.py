"""Global filters: sidebar widgets → one frozen ``Filters`` value, mirrored in the URL.

The URL's query parameters (``range``, ``start``, ``end``, ``tenant``, ``route``, ``env``) are what
makes a view shareable by link: they seed the widgets when a session starts, and every run writes the
current filters back (page switches clear query parameters, so they are re-written on each run).

Preset ranges end at "now" rounded up to the next minute, so reruns within a minute ask the API the
same question and hit the cache. The pure half (parsing, resolving, rendering params) has no Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

PRESETS: dict[str, tuple[str, timedelta]] = {
    "1h": ("Last hour", timedelta(hours=1)),
    "6h": ("Last 6 hours", timedelta(hours=6)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
}
INTERVALS = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
CUSTOM = "custom"
DEFAULT_PRESET = "24h"
ALL = "All"


@dataclass(frozen=True, slots=True)
class Filters:
    """What every query on every page is scoped to. Times are UTC; ``None`` means all."""

    start: datetime
    end: datetime
    preset: str = DEFAULT_PRESET
    tenant: str | None = None
    route: str | None = None
    environment: str | None = None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def label(self) -> str:
        if self.preset in PRESETS:
            return PRESETS[self.preset][0].lower()
        return self.range_text

    @property
    def range_text(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"

    def interval(self) -> str:
        """Bucket size giving readable trend lines: ~60 points at most for short ranges."""
        if self.duration <= timedelta(hours=3):
            return "1m"
        if self.duration <= timedelta(days=14):
            return "1h"
        return "1d"

    @property
    def bucket(self) -> timedelta:
        return INTERVALS[self.interval()]

    @property
    def bucket_name(self) -> str:
        return {"1m": "minute", "1h": "hour", "1d": "day"}[self.interval()]

    def previous(self) -> Filters:
        """The period of equal length just before this one, for "change vs previous period"."""
        return replace(self, start=self.start - self.duration, end=self.start, preset=CUSTOM)

    def api_params(self) -> dict[str, str]:
        params = {"start": _iso(self.start), "end": _iso(self.end)}
        scope = (("tenant", self.tenant), ("route", self.route), ("environment", self.environment))
        params.update({name: value for name, value in scope if value})
        return params

    def query_params(self) -> dict[str, str]:
        """The URL form of these filters (what a shared link carries)."""
        params = {"range": self.preset}
        if self.preset == CUSTOM:
            params["start"] = _iso(self.start)
            params["end"] = _iso(self.end)
        for name, value in (("tenant", self.tenant), ("route", self.route), ("env", self.environment)):
            if value:
                params[name] = value
        return params


def preset_range(preset: str, now: datetime) -> tuple[datetime, datetime]:
    end = ceil_minute(now)
    return end - PRESETS[preset][1], end


def custom_range(first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """Whole UTC days, both ends included."""
    if last_day < first_day:
        first_day, last_day = last_day, first_day
    start = datetime.combine(first_day, time(0), tzinfo=timezone.utc)
    return start, datetime.combine(last_day, time(0), tzinfo=timezone.utc) + timedelta(days=1)


def from_query_params(params: Mapping[str, str], now: datetime) -> Filters:
    """Filters from a URL; anything malformed falls back to the default instead of failing."""
    preset = params.get("range", DEFAULT_PRESET)
    start = end = None
    if preset == CUSTOM:
        start, end = parse_time(params.get("start")), parse_time(params.get("end"))
        if start is None or end is None or end <= start:
            preset = DEFAULT_PRESET
    if preset != CUSTOM:
        if preset not in PRESETS:
            preset = DEFAULT_PRESET
        start, end = preset_range(preset, now)
    assert start is not None and end is not None
    return Filters(
        start=start,
        end=end,
        preset=preset,
        tenant=params.get("tenant") or None,
        route=params.get("route") or None,
        environment=params.get("env") or None,
    )


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def with_choice(options: Sequence[str], current: str | None) -> list[str]:
    """Options for a dimension picker: "All" first, and the current value kept even if not listed."""
    values = [ALL, *sorted(option for option in options if option)]
    if current and current not in values:
        values.append(current)
    return values


def ceil_minute(moment: datetime) -> datetime:
    epoch_s = moment.astimezone(timezone.utc).timestamp()
    return datetime.fromtimestamp(math.ceil(epoch_s / 60) * 60, tz=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


# --- Streamlit edge -------------------------------------------------------------------------------

_KEYS = {
    "range": "filter_range",
    "days": "filter_days",
    "tenant": "filter_tenant",
    "route": "filter_route",
    "env": "filter_env",
}


def sidebar_filters(options: Mapping[str, Sequence[str]], now: datetime | None = None) -> Filters:
    """Render the global filters in the sidebar and return them; keeps the URL in step.

    ``options`` maps ``tenant`` / ``route`` / ``environment`` to the values the API knows about.
    """
    import streamlit as st

    now = now or datetime.now(timezone.utc)
    state = st.session_state
    if "filters_seeded" not in state:
        _seed_from_url(state, from_query_params(dict(st.query_params), now))
    labels = {**{key: label for key, (label, _) in PRESETS.items()}, CUSTOM: "Custom dates"}
    preset = st.sidebar.selectbox(
        "Time range", list(labels), format_func=labels.__getitem__, key=_KEYS["range"]
    )
    if preset == CUSTOM:
        picked = st.sidebar.date_input("Dates (UTC)", key=_KEYS["days"], max_value=now.date())
        days = list(picked) if isinstance(picked, (tuple, list)) else [picked]
        first, last = (days[0], days[-1]) if days else (now.date(), now.date())
        start, end = custom_range(first, last)
    else:
        start, end = preset_range(preset, now)
    chosen: dict[str, str | None] = {}
    for name, url_key, title in (
        ("tenant", "tenant", "Tenant"),
        ("route", "route", "Route"),
        ("environment", "env", "Environment"),
    ):
        current = state.get(_KEYS[url_key])
        values = with_choice(options.get(name, ()), current if current != ALL else None)
        if len(values) == 1:  # nothing to choose from (e.g. the API cannot list environments)
            chosen[name] = None
            continue
        if current not in values:
            state[_KEYS[url_key]] = ALL
        picked_value = st.sidebar.selectbox(title, values, key=_KEYS[url_key])
        chosen[name] = None if picked_value == ALL else picked_value
    filters = Filters(start=start, end=end, preset=preset, **chosen)
    st.query_params.from_dict(filters.query_params())
    return filters


def _seed_from_url(state: Any, filters: Filters) -> None:
    """First run of a session: the widgets start from the link the user opened."""
    state["filters_seeded"] = True
    state[_KEYS["range"]] = filters.preset
    if filters.preset == CUSTOM:
        state[_KEYS["days"]] = (filters.start.date(), (filters.end - timedelta(seconds=1)).date())
    state[_KEYS["tenant"]] = filters.tenant or ALL
    state[_KEYS["route"]] = filters.route or ALL
    state[_KEYS["env"]] = filters.environment or ALL
