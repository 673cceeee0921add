"""How a reconciliation row's gap is split over its causes (metrics/reconciliation.attribute)."""

from __future__ import annotations

from datetime import date

import pytest

from tiermix_server.metrics.reconciliation import Row, attribute, model_key

DAY = date(2026, 11, 3)


def row(**values: object) -> Row:
    return Row(DAY, "openai", "gpt-4o-mini", **values)  # type: ignore[arg-type]


def test_unpriced_calls_are_valued_at_the_models_cost_per_priced_call() -> None:
    r = row(
        billed_usd=1.30, tracked_usd=1.00, calls=12, unpriced_calls=2, tracked_tokens=1000, billed_tokens=1000
    )
    causes = attribute(r)
    assert causes == pytest.approx({"unpriced_calls": 0.20, "price_differs": 0.10})  # $0.10 a priced call


def test_usage_less_calls_come_first_and_no_cause_takes_more_than_the_gap() -> None:
    r = row(billed_usd=1.05, tracked_usd=1.00, calls=11, unpriced_calls=1, usage_less_calls=1)
    assert attribute(r) == pytest.approx({"usage_less_calls": 0.05})


def test_a_negative_gap_is_put_down_to_calls_the_bill_does_not_list_or_left_unexplained() -> None:
    assert attribute(row(billed_usd=0.0, tracked_usd=0.40, calls=4)) == pytest.approx(
        {"absent_from_bill": -0.40}
    )
    r = row(billed_usd=0.90, tracked_usd=1.00, calls=10, tracked_tokens=1000, billed_tokens=900)
    assert attribute(r) == pytest.approx({"untracked_usage": -0.10})  # the provider saw fewer tokens
    assert attribute(row(billed_usd=0.90, tracked_usd=1.00, calls=10)) == pytest.approx(
        {"unexplained": -0.10}
    )


def test_rounding_is_not_a_cause_and_every_cause_sums_to_the_gap() -> None:
    assert attribute(row(billed_usd=1.004, tracked_usd=1.0, calls=3)) == {}
    r = row(
        billed_usd=5.0, tracked_usd=1.0, calls=10, unpriced_calls=1, tracked_tokens=100, billed_tokens=300
    )
    causes = attribute(r)
    assert sum(causes.values()) == pytest.approx(r.gap_usd)


@pytest.mark.parametrize(
    ("name", "key"),
    [("gpt-4o-mini-2024-07-18", "gpt-4o-mini"), ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
     ("GPT-4.1", "gpt-4.1"), ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"), ("o3", "o3")],
)  # fmt: skip
def test_bill_and_telemetry_model_names_meet_without_their_date_stamp(name: str, key: str) -> None:
    assert model_key(name) == key
