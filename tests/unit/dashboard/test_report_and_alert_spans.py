"""The monthly report's period and comparison, and alert instances drawn as state bands."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pandas as pd

from tiermix_dashboard import alert_rules, report

UTC = timezone.utc


def test_the_month_in_progress_runs_to_now_and_compares_with_the_same_days_before() -> None:
    now = datetime(2026, 12, 5, 15, 19, 30, tzinfo=UTC)
    assert report.months(now, 3) == [date(2026, 12, 1), date(2026, 11, 1), date(2026, 10, 1)]
    chosen = report.period(date(2026, 12, 1), now)
    assert (chosen.start, chosen.end) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 5, 15, 20, tzinfo=UTC),
    )
    assert not chosen.complete and chosen.span_text.startswith("Month so far (Dec 1 to Dec 5")
    assert report.comparison(chosen) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 5, 15, 20, tzinfo=UTC),
    )


def test_a_past_month_is_whole_and_its_comparison_never_runs_past_the_shorter_month() -> None:
    now = datetime(2026, 12, 5, tzinfo=UTC)
    march = report.period(date(2026, 3, 1), now)
    assert march.complete and march.end == datetime(2026, 4, 1, tzinfo=UTC)
    assert report.comparison(march) == (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))


def test_the_tier_table_sums_the_period_cheapest_tier_first() -> None:
    mix = pd.DataFrame(
        {
            "key": ["frontier", "small", "small", "mid"],
            "calls": [1, 6, 2, 1],
            "cost_usd": [3.0, 0.5, 0.5, 1.0],
        }
    )
    table = report.tier_table(mix, ["small", "mid", "frontier"])
    assert table["tier"].tolist() == ["small", "mid", "frontier"]
    assert table["calls"].tolist() == [8, 1, 1]
    assert table["share_calls"].tolist() == [0.8, 0.1, 0.1]
    assert table["share_cost"].tolist() == [0.2, 0.2, 0.6]


def _history(rows: list[tuple[datetime, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": [pd.Timestamp(ts) for ts, _, _ in rows],
            "rule_id": [1] * len(rows),
            "from": [before for _, before, _ in rows],
            "to": [after for _, _, after in rows],
            "instance": ["spike · tenant=globex"] * len(rows),
            "summary": [f"{before} → {after}" for _, before, after in rows],
        }
    )


def test_an_alert_instance_is_a_band_per_state_from_change_to_change() -> None:
    start, end = datetime(2026, 12, 4, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC)
    pending, firing, resolved = (start + timedelta(hours=h) for h in (10, 10.5, 12))
    history = _history(
        [(pending, "ok", "pending"), (firing, "pending", "firing"), (resolved, "firing", "resolved")]
    )
    current = pd.DataFrame({"rule": ["spike"], "group": ["tenant=acme"], "state": ["ok"], "rule_id": [1]})
    spans = alert_rules.state_spans(history, current, start, end)
    globex = spans[spans["row"] == "spike · tenant=globex"]
    assert globex["state"].tolist() == ["ok", "pending", "firing", "resolved"]
    assert globex["start"].tolist() == [pd.Timestamp(t) for t in (start, pending, firing, resolved)]
    assert globex["end"].tolist() == [pd.Timestamp(t) for t in (pending, firing, resolved, end)]
    # an instance that did not change held its state over the whole range
    acme = spans[spans["row"] == "spike · tenant=acme"]
    assert acme[["state", "start", "end"]].values.tolist() == [["ok", pd.Timestamp(start), pd.Timestamp(end)]]


def test_nothing_is_drawn_before_the_rule_existed_and_the_axis_zooms_to_it() -> None:
    start, end = datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC)
    created = end - timedelta(minutes=40)
    current = pd.DataFrame({"rule": ["spike"], "group": ["all"], "state": ["ok"], "rule_id": [7]})
    rules = [{"id": 7, "created_at": created.isoformat()}]
    spans = alert_rules.state_spans(_history([])[:0], current, start, end, rules)
    assert spans["start"].tolist() == [pd.Timestamp(created)]
    shown_from = alert_rules.activity_start(spans, start, end)
    assert start < shown_from < created and end - shown_from < timedelta(hours=1)
    # activity over most of the range keeps the whole range on the axis
    assert alert_rules.activity_start(spans.assign(start=pd.Timestamp(start)), start, end) == start


def test_alert_values_read_in_their_metrics_unit() -> None:
    assert alert_rules.value_text(0.4, "frontier_share") == "40.0%"
    assert alert_rules.value_text(0.0023, "cost_per_request") == "$0.0023"
    assert alert_rules.value_text(0.123456, "drift_score") == "0.123"
    assert alert_rules.value_text(1.8, "frontier_share", "ratio") == "1.80x baseline"
    assert alert_rules.value_text(None, "spend") == "n/a"
    condition = {"op": ">", "threshold": 0.3, "kind": "static"}
    assert alert_rules.describe_condition(condition, "frontier_share") == "value > 30.0%"
