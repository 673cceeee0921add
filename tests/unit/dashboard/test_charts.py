"""Every chart has a title, axis titles with units, and hover text (pure figure building)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tiermix_dashboard import charts, tiers

T0 = datetime(2026, 11, 24, tzinfo=UTC)
MIX = pd.DataFrame({
    "bucket": [T0, T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1)],
    "key": ["frontier", "small", "small", "mid"], "calls": [1, 3, 2, 2], "cost_usd": [0.5, 0.1, 0.1, 0.2],
})  # fmt: skip


def test_every_chart_has_a_title_axis_titles_and_hover_text() -> None:
    figures = [
        charts.trend(MIX, x="bucket", y="calls", title="Calls", y_title="Calls", y_format=",d"),
        charts.stacked_share(MIX, x="bucket", key="key", value="calls", title="Share", unit="calls"),
        charts.bars(
            MIX,
            x="bucket",
            y="cost_usd",
            colour="key",
            title="Spend",
            x_title="Time (UTC)",
            y_title="Spend (USD)",
            y_format="money",
        ),
    ]
    for figure in figures:
        assert figure.layout.title.text
        assert figure.layout.xaxis.title.text and figure.layout.yaxis.title.text
        assert all(trace.hovertemplate for trace in figure.data)


def test_tiers_keep_their_colour_and_cost_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiers, "in_force", lambda: ("small", "mid", "frontier"))
    figure = charts.stacked_share(MIX, x="bucket", key="key", value="calls", title="Share", unit="calls")
    assert [trace.name for trace in figure.data] == ["small", "mid", "frontier"]
    expected = tiers.colours(["small", "mid", "frontier"])
    assert [trace.line.color for trace in figure.data] == [expected[t] for t in ("small", "mid", "frontier")]


def test_renamed_tiers_are_ordered_and_coloured_by_their_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    renamed = MIX.assign(key=MIX["key"].map({"small": "economy", "mid": "standard", "frontier": "premium"}))
    monkeypatch.setattr(tiers, "in_force", lambda: ("economy", "standard", "premium"))
    figure = charts.stacked_share(renamed, x="bucket", key="key", value="calls", title="Share", unit="calls")
    assert [trace.name for trace in figure.data] == ["economy", "standard", "premium"]
    bottom, top = figure.data[0].line.color, figure.data[2].line.color
    assert (bottom, top) == (tiers.colours(["a", "b"])["a"], tiers.colours(["a", "b"])["b"]) and bottom != top


def test_shares_of_each_bucket_add_up_to_one() -> None:
    figure = charts.stacked_share(MIX, x="bucket", key="key", value="calls", title="Share", unit="calls")
    per_bucket: dict[object, float] = {}
    for trace in figure.data:
        for bucket, share in zip(trace.x, trace.y, strict=True):
            per_bucket[bucket] = per_bucket.get(bucket, 0.0) + share
    assert all(abs(total - 1.0) < 1e-12 for total in per_bucket.values())


def test_money_axes_show_enough_digits_for_the_amounts() -> None:
    assert charts.money_format([120.0, 3.0]) == "$,.2f"
    assert charts.money_format([0.12]) == "$,.4f"
    assert charts.money_format([0.0004]) == "$,.6f"


def test_an_empty_chart_says_there_is_no_data() -> None:
    figure = charts.trend(MIX.iloc[0:0], x="bucket", y="calls", title="Calls", y_title="Calls", y_format=",d")
    assert any("No data" in annotation.text for annotation in figure.layout.annotations)


def test_a_lone_bar_on_a_time_axis_is_as_wide_as_its_bucket() -> None:
    one = MIX.iloc[:1]
    figure = charts.bars(one, x="bucket", y="cost_usd", title="Spend", x_title="Time (UTC)", y_title="USD",
                         y_format="money", bucket=timedelta(hours=1))  # fmt: skip
    assert figure.data[0].width == timedelta(hours=1).total_seconds() * 1000 * 0.9
