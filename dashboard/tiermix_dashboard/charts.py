"""DataFrame → Plotly figure. No I/O: besides the frame, only the tier list in force is read (tiers.py).

Every figure has a title, axis titles that carry the unit, and hover text with the exact values.
Tiers keep one colour everywhere (by rank in the tier list: the cheapest green, the dearest red) so a
reader learns it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from tiermix_dashboard import tiers

COST_UP, COST_DOWN = "#d1495b", "#2e9e5b"
_PALETTE = ("#3b6fb6", "#e07b39", "#6a4c93", "#1b998b", "#c44569", "#8d6e63", "#5c7cfa", "#20c997")
_TIME_AXIS = "Time (UTC)"


def ordered_keys(keys: Sequence[str], tier_list: Sequence[str] | None = None) -> list[str]:
    """Tiers in their cost order (the tier list in force, tiers.py) first, then the rest alphabetically."""
    order = tiers.in_force() if tier_list is None else tier_list
    known = [tier for tier in order if tier in keys]
    return known + sorted(str(key) for key in set(keys) - set(known))


def colour_for(key: str, index: int, tier_list: Sequence[str] | None = None) -> str:
    if key == "unknown":
        return tiers.UNKNOWN_COLOUR
    by_tier = tiers.colours(tiers.in_force() if tier_list is None else tier_list)
    return by_tier.get(key, _PALETTE[index % len(_PALETTE)])


TimeRange = tuple[datetime, datetime]


def money_format(values: Any) -> str:
    """A d3 format for dollar amounts: cents when amounts are large, more digits when they are tiny."""
    numbers = pd.to_numeric(pd.Series(values), errors="coerce").abs()
    largest = float(numbers.max()) if numbers.notna().any() else 0.0
    if largest >= 1 or largest == 0:
        return "$,.2f"
    return "$,.4f" if largest >= 0.01 else "$,.6f"


def _resolve(y_format: str, values: Any) -> str:
    return money_format(values) if y_format == "money" else y_format


def _integer_ticks(fig: go.Figure, y_format: str, values: Any, axis: str = "y") -> None:
    """Counts get whole-number ticks: Plotly would put ticks at 0.2, 0.4… for small counts, and ``,d``
    prints those as 0, 0, 1, 1."""
    if y_format not in (",d", "d"):
        return
    numbers = pd.to_numeric(pd.Series(values), errors="coerce")
    largest = float(numbers.max()) if numbers.notna().any() else 0.0
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    if largest <= 6:
        update(tick0=0, dtick=1, range=[0, max(1.0, largest) * 1.1])


def _layout(
    fig: go.Figure,
    title: str,
    x_title: str,
    y_title: str,
    *,
    height: int = 360,
    time_range: TimeRange | None = None,
) -> go.Figure:
    if time_range is not None:  # the axis spans the chosen range, even where there is no data
        fig.update_xaxes(range=[time_range[0], time_range[1]], type="date")
    if not any(len(trace.x if trace.x is not None else ()) for trace in fig.data if hasattr(trace, "x")):
        fig.add_annotation(
            text="No data in this range", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
            font={"size": 15, "color": "#8a8f98"},
        )  # fmt: skip
        fig.update_yaxes(showticklabels=False, showgrid=False)
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        hovermode="x unified",
    )
    return fig


def trend(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    title: str,
    y_title: str,
    y_format: str,
    series: str | None = None,
    time_range: TimeRange | None = None,
) -> go.Figure:
    """Line chart over time; ``y_format`` is a d3 format (``,d``, ``.1%``) or ``money``.

    With a boolean ``complete`` column, points of partly filled buckets (the current one, say) are
    drawn dotted and hollow, so a bucket that is still filling does not read as a drop.
    """
    fig = go.Figure()
    y_format = _resolve(y_format, frame.get(y, []))
    groups = [(None, frame)] if series is None else list(frame.groupby(series, sort=False))
    keys = [str(key) for key, _ in groups]
    order = ordered_keys(keys) if series is not None else keys
    by_key = {str(key): part for key, part in groups}
    for index, key in enumerate(order):
        part = by_key[key].sort_values(x)
        name = y_title if series is None else key
        colour = colour_for(key, index)
        hover = f"{name}: %{{y:{y_format}}}<extra></extra>"
        if "complete" in part and not part["complete"].all():
            fig.add_scatter(
                x=part[x], y=part[y], mode="lines+markers", name=f"{name} (bucket still filling)",
                line={"color": colour, "dash": "dot"}, marker={"symbol": "circle-open"},
                hovertemplate=f"{name} (partial bucket): %{{y:{y_format}}}<extra></extra>",
            )  # fmt: skip
            part = part[part["complete"]]
        fig.add_scatter(
            x=part[x], y=part[y], mode="lines+markers", name=name, line={"color": colour}, hovertemplate=hover
        )
    fig.update_yaxes(tickformat=y_format, rangemode="tozero")
    _integer_ticks(fig, y_format, frame.get(y, []))
    return _layout(fig, title, _TIME_AXIS, y_title, time_range=time_range)


def stacked_share(
    frame: pd.DataFrame,
    *,
    x: str,
    key: str,
    value: str,
    title: str,
    unit: str,
    time_range: TimeRange | None = None,
) -> go.Figure:
    """100%-stacked area: each bucket's ``value`` split by ``key``; hover shows share and amount."""
    totals = frame.groupby(x)[value].transform("sum")
    data = frame.assign(_share=(frame[value] / totals.where(totals > 0)).fillna(0.0))
    fig = go.Figure()
    for index, name in enumerate(ordered_keys(list(data[key].astype(str).unique()))):
        part = data[data[key].astype(str) == name].sort_values(x)
        fig.add_scatter(
            x=part[x],
            y=part["_share"],
            name=name,
            stackgroup="one",
            mode="lines",
            line={"width": 0.5, "color": colour_for(name, index)},
            customdata=part[[value]],
            hovertemplate=f"{name}: %{{y:.1%}} (%{{customdata[0]:,.4~f}} {unit})<extra></extra>",
        )
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return _layout(fig, title, _TIME_AXIS, f"Share of {unit}", time_range=time_range)


def bars(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    title: str,
    x_title: str,
    y_title: str,
    y_format: str,
    colour: str | None = None,
    horizontal: bool = False,
    grouped: bool = False,
    time_range: TimeRange | None = None,
    bucket: timedelta | None = None,
    show_values: bool = False,
) -> go.Figure:
    """Bar chart; ``colour`` splits bars into stacked (or ``grouped``) series; tiers keep their colours
    and, on a category axis, their cost order. ``show_values`` writes each share (``y`` is a fraction)
    on its bar: a share read off a bar by eye is a guess."""
    fig = go.Figure()
    y_format = _resolve(y_format, frame.get(y, []))
    width_ms = _bar_width_ms(frame, x, bucket, time_range)
    groups = [(y_title, frame)] if colour is None else list(frame.groupby(colour, sort=False))
    names = [str(name) for name, _ in groups]
    by_name = {str(name): part for name, part in groups}
    for index, name in enumerate(ordered_keys(names) if colour else names):
        part = by_name[name]
        values = part[y]
        labels = part[x] if pd.api.types.is_datetime64_any_dtype(part[x]) else part[x].astype(str)
        fig.add_bar(
            x=values if horizontal else labels,
            y=labels if horizontal else values,
            name=name,
            orientation="h" if horizontal else "v",
            width=width_ms,
            offset=0 if width_ms is not None and not grouped else None,  # a bar starts at its bucket
            marker_color=colour_for(name, index),
            hovertemplate=f"{name}: %{{{'x' if horizontal else 'y'}:{y_format}}}<extra></extra>",
            text=_share_labels(values) if show_values else None,
            textposition="inside" if show_values else None,
            insidetextanchor="middle" if show_values else None,
            textangle=0,
            textfont={"size": 11},
        )
    fig.update_layout(barmode="group" if grouped else "stack", showlegend=colour is not None)
    value_axis, category_axis = (
        (fig.update_xaxes, fig.update_yaxes) if horizontal else (fig.update_yaxes, fig.update_xaxes)
    )
    value_axis(tickformat=y_format)
    stacked = frame.groupby(x)[y].sum() if colour and not grouped and not frame.empty else frame[y]
    _integer_ticks(fig, y_format, stacked, axis="x" if horizontal else "y")
    categories = [str(label) for label in frame[x].unique()] if not frame.empty else []
    if (
        categories
        and set(categories) & set(tiers.in_force())
        and not pd.api.types.is_datetime64_any_dtype(frame[x])
    ):
        category_axis(categoryorder="array", categoryarray=ordered_keys(categories))
    if horizontal:
        fig.update_yaxes(autorange="reversed")
        fig = _layout(fig, title, y_title, x_title, height=max(260, 80 + 34 * frame[x].nunique()))
        return fig.update_layout(hovermode="y unified")
    return _layout(fig, title, x_title, y_title, time_range=time_range)


def _share_labels(values: pd.Series, least: float = 0.05) -> list[str]:
    """A share written on its bar ("63%"), left off segments under ``least`` (too thin to hold it)."""
    return ["" if pd.isna(value) or value < least else f"{value:.0%}" for value in values]


def _bar_width_ms(
    frame: pd.DataFrame, x: str, bucket: timedelta | None, time_range: TimeRange | None
) -> float | None:
    """On a time axis a bar is as wide as its bucket (Plotly guesses from the spacing, and a lone bar
    becomes a hairline)."""
    if frame.empty or not pd.api.types.is_datetime64_any_dtype(frame[x]):
        return None
    starts = pd.Series(frame[x].unique()).sort_values()
    if bucket is None and len(starts) > 1:
        bucket = starts.diff().min().to_pytimedelta()
    if bucket is None and time_range is not None:
        bucket = (time_range[1] - time_range[0]) / 24
    return None if bucket is None else bucket.total_seconds() * 1000 * 0.9


def heatmap(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    z: str,
    title: str,
    x_title: str,
    y_title: str,
    z_title: str,
    z_format: str = ".3f",
    time_range: TimeRange | None = None,
) -> go.Figure:
    """Cells of ``z`` by ``y`` and ``x``. A datetime ``x`` (the middle of each cell's period) goes on a
    time axis like every other chart's; anything else is one category per value."""
    pivot = frame.pivot_table(index=y, columns=x, values=z, aggfunc="max")
    on_time = not frame.empty and pd.api.types.is_datetime64_any_dtype(frame[x])
    fig = go.Figure(
        go.Heatmap(
            z=pivot.values,
            x=list(pivot.columns) if on_time else [str(column) for column in pivot.columns],
            y=[str(row) for row in pivot.index],
            colorscale="YlOrRd",
            zmin=0,
            xgap=1,
            ygap=1,
            colorbar={"title": {"text": z_title}},
            hovertemplate=f"{y_title}: %{{y}}<br>{x_title}: %{{x}}<br>{z_title}: %{{z:{z_format}}}"
            "<extra></extra>",
        )
    )
    fig.update_layout(hovermode="closest")
    if not on_time:
        fig.update_xaxes(type="category")
    return _layout(
        fig, title, x_title, y_title, height=max(280, 80 + 30 * len(pivot.index)),
        time_range=time_range if on_time else None,
    )  # fmt: skip


def waterfall(
    steps: Sequence[tuple[str, float | None, str]], *, title: str, y_title: str, y_format: str
) -> go.Figure:
    """Start, signed contributions, end: ``steps`` = (label, value, "absolute" | "relative" | "total")."""
    fig = go.Figure(
        go.Waterfall(
            x=[label for label, _, _ in steps],
            y=[value or 0.0 for _, value, _ in steps],
            measure=[measure for _, _, measure in steps],
            texttemplate=f"%{{y:{y_format}}}",
            textposition="outside",
            hovertemplate=f"%{{x}}: %{{y:{y_format}}}<extra></extra>",
            increasing={"marker": {"color": COST_UP}},
            decreasing={"marker": {"color": COST_DOWN}},
            totals={"marker": {"color": "#3b6fb6"}},
        )
    )
    fig.update_yaxes(tickformat=y_format)
    fig.update_layout(hovermode="closest", showlegend=False)
    return _layout(fig, title, "", y_title)


def whatif(curve: pd.DataFrame, *, title: str, direction: str | None) -> go.Figure:
    """Estimated cost per request (left axis) and acceptance (right axis) against the router threshold,
    each with its interval as a band; points resting on little data are hollow; today's is marked."""
    fig = go.Figure()
    data = curve.sort_values("threshold")
    cost_format = money_format(data.get("cost_per_request_high_usd", []))
    rule = "score ≥ threshold" if direction != "lower_to_top" else "score ≤ threshold"
    for low, high, colour, axis in (
        ("cost_per_request_low_usd", "cost_per_request_high_usd", "rgba(59,111,182,0.18)", "y"),
        ("acceptance_low", "acceptance_high", "rgba(46,158,91,0.18)", "y2"),
    ):
        fig.add_scatter(
            x=data["threshold"],
            y=data[high],
            mode="lines",
            line={"width": 0},
            yaxis=axis,
            showlegend=False,
            hoverinfo="skip",
        )
        fig.add_scatter(
            x=data["threshold"],
            y=data[low],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=colour,
            yaxis=axis,
            name="95% interval",
            showlegend=axis == "y",
            hoverinfo="skip",
        )
    symbols = ["circle-open" if thin else "circle" for thin in data["little_data"]]
    fig.add_scatter(
        x=data["threshold"],
        y=data["cost_per_request_usd"],
        mode="lines+markers",
        name="Cost per request (est.)",
        line={"color": "#3b6fb6"},
        marker={"symbol": symbols, "size": 8},
        hovertemplate=f"cost/request: %{{y:{cost_format}}}<extra></extra>",
    )
    fig.add_scatter(
        x=data["threshold"],
        y=data["acceptance"],
        mode="lines+markers",
        yaxis="y2",
        name="Accepted by the cheaper tier (est.)",
        line={"color": COST_DOWN},
        marker={"symbol": symbols, "size": 8},
        hovertemplate="accepted: %{y:.1%}<extra></extra>",
    )
    fig.add_scatter(
        x=data["threshold"],
        y=data["top_share"],
        mode="lines",
        yaxis="y2",
        name="Share to the top tier",
        line={"color": COST_UP, "dash": "dot"},
        hovertemplate="to the top tier: %{y:.1%}<extra></extra>",
    )
    current = data[data["current"].astype(bool)]
    if not current.empty:
        fig.add_vline(
            x=float(current["threshold"].iloc[0]),
            line={"color": "#8a8f98", "dash": "dash"},
            annotation_text="today",
            annotation_position="bottom right",
        )
    fig.update_layout(
        yaxis={"tickformat": cost_format, "rangemode": "tozero"},
        yaxis2={
            "tickformat": ".0%",
            "tickmode": "linear",  # 0, 20, 40 … 100%, not the cost axis's fifths
            "tick0": 0,
            "dtick": 0.2,
            "showgrid": False,
            "range": [0, 1.02],
            "overlaying": "y",
            "side": "right",
            "title": "Share of requests",
        },
    )
    return _layout(
        fig, title, f"Router threshold (to the top tier when {rule})", "Cost per request (USD)", height=420
    )


def budget_burn(
    path: pd.DataFrame,
    *,
    amount: float,
    low: float | None,
    high: float | None,
    title: str,
    period: tuple[str, str],
) -> go.Figure:
    """Cumulative spend of a budget's period, the forecast's path to the period end, its interval at the
    end (a bar from low to high), and the budget as a line."""
    fig = go.Figure()
    y_format = money_format([amount, *path.get("usd", [])])
    spent = path[path["kind"] == "spent"] if not path.empty else path
    ahead = path[path["kind"] == "forecast"] if not path.empty else path
    fig.add_scatter(
        x=spent.get("day", []),
        y=spent.get("usd", []),
        mode="lines+markers",
        name="spent",
        line={"color": colour_for("spent", 0)},
        hovertemplate=f"spent: %{{y:{y_format}}}<extra></extra>",
    )
    if not ahead.empty:
        joined = pd.concat([spent.tail(1), ahead]) if not spent.empty else ahead
        fig.add_scatter(
            x=joined["day"],
            y=joined["usd"],
            mode="lines",
            name="forecast (estimate)",
            line={"color": colour_for("forecast", 1), "dash": "dash"},
            hovertemplate=f"forecast: %{{y:{y_format}}}<extra></extra>",
        )
        if low is not None and high is not None:
            last = ahead["day"].iloc[-1]
            fig.add_scatter(
                x=[last, last],
                y=[low, high],
                mode="lines+markers",
                name="95% interval at period end",
                line={"color": colour_for("forecast", 1), "width": 6},
                opacity=0.5,
                hovertemplate=f"%{{y:{y_format}}}<extra>interval</extra>",
            )
    fig.add_hline(
        y=amount,
        line={"color": "#c0392b", "dash": "dot"},
        annotation_text="budget",
        annotation_position="top left",
    )
    fig.update_yaxes(tickformat=y_format, rangemode="tozero")
    # the whole period on the axis (a budget one day into its month is not a chart of one instant)
    start, end = (pd.Timestamp(day, tz="UTC").to_pydatetime() for day in period)
    return _layout(
        fig, title, "Day (UTC)", "Cumulative spend (USD)", time_range=(start, end - timedelta(days=1))
    )


def mix_and_cost(
    mix: pd.DataFrame,
    cost: pd.DataFrame,
    *,
    value: str,
    title: str,
    unit: str,
    time_range: TimeRange | None = None,
) -> go.Figure:
    """The seed's question on one time axis: each tier's share of ``value`` (stacked to 100%, left axis)
    and the mean cost per request (a line, right axis). ``cost`` has ``bucket`` and
    ``cost_per_request_usd``; a bucket with no requests has no point rather than a $0 one."""
    fig = stacked_share(
        mix, x="bucket", key="key", value=value, title=title, unit=unit, time_range=time_range
    )
    points = cost.dropna(subset=["cost_per_request_usd"]).sort_values("bucket") if not cost.empty else cost
    cost_format = money_format(points.get("cost_per_request_usd", []))
    complete = (
        points["complete"].astype(bool) if "complete" in points else pd.Series(True, index=points.index)
    )
    for part, partial in ((points[~complete], True), (points[complete], False)):
        if partial and part.empty:
            continue
        fig.add_scatter(
            x=part.get("bucket", []),
            y=part.get("cost_per_request_usd", []),
            name="Cost per request" + (" (bucket still filling)" if partial else ""),
            mode="markers" if partial else "lines+markers",
            yaxis="y2",
            line={"color": "#1f2a44", "width": 2.5},
            marker={"size": 7 if partial else 5, "symbol": "circle-open" if partial else "circle"},
            hovertemplate=f"cost per request{' (partial bucket)' if partial else ''}: "
            f"%{{y:{cost_format}}}<extra></extra>",
        )
    fig.update_layout(
        yaxis2={
            "title": "Cost per request (USD)",
            "tickformat": cost_format,
            "tickmode": "auto",  # its own round ticks, not the share axis's fifths
            "nticks": 6,
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
        height=420,
    )
    return fig


# a state's colour; "ok" is pale so the states worth reading stand out against it
_SPAN_COLOURS = {
    "firing": "#d1495b",
    "pending": "#e0a526",
    "resolved": "#3b6fb6",
    "ok": "#b7dfc4",
    "no_data": "#c9ccd1",
}


def state_spans(spans: pd.DataFrame, *, title: str, time_range: TimeRange) -> go.Figure:
    """Alert instances as horizontal bands over time, one row per rule and group, coloured by state.

    ``spans`` has ``row``, ``state``, ``start``, ``end`` (one state from one change to the next) and
    ``text``. A band is at least 1/150 of the range wide, so a state that lasted a minute of a week still
    shows; firing is drawn last, on top.
    """
    fig = go.Figure()
    least_ms = (time_range[1] - time_range[0]).total_seconds() * 1000 / 150
    order = ["ok", "no_data", "resolved", "pending", "firing"]
    present = [state for state in order if not spans.empty and state in set(spans["state"])]
    present += sorted(set(spans["state"]) - set(present)) if not spans.empty else []
    for index, state in enumerate(present):
        part = spans[spans["state"] == state]
        widths = [
            max(least_ms, (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() * 1000)
            for start, end in zip(part["start"], part["end"], strict=True)
        ]
        fig.add_bar(
            x=widths,
            base=list(part["start"]),
            y=list(part["row"]),
            orientation="h",
            name=state,
            text=list(part["text"]),
            textposition="none",
            marker_color=_SPAN_COLOURS.get(state, _PALETTE[index % len(_PALETTE)]),
            hovertemplate="%{text}<extra></extra>",
        )
    rows = spans["row"].nunique() if not spans.empty else 0
    fig.update_layout(barmode="overlay", hovermode="closest", bargap=0.35)
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(type="date")
    return _layout(
        fig, title, _TIME_AXIS, "Rule · group", height=max(220, 110 + 34 * rows), time_range=time_range
    )
