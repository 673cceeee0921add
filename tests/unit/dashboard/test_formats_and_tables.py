"""How numbers read: money to the precision its amount needs, and tables with no "None" cell."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiermix_dashboard.formats import MISSING, heading, money_decimals, money_text
from tiermix_dashboard.tables import MONEY, displayed, money_config


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (1234.5, "$1,234.50"),
        (0.0, "$0.00"),
        (0.5, "$0.50"),
        (0.05, "$0.05"),
        (0.0129, "$0.013"),
        (0.0023, "$0.0023"),
        (0.000015, "$0.000015"),
        (-2.357, "-$2.36"),
        (-0.00042, "-$0.00042"),
        (None, "n/a"),
        (float("nan"), "n/a"),
    ],
)
def test_money_keeps_two_significant_digits_below_a_dollar(amount: float | None, text: str) -> None:
    assert money_text(amount) == text


@given(st.floats(min_value=1e-8, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_a_non_zero_amount_never_reads_as_zero(amount: float) -> None:
    shown = money_text(amount)
    assert shown not in ("$0.00", "$0.0000")
    digits = shown.lstrip("$").replace(",", "")
    assert float(digits) == pytest.approx(amount, rel=0.06, abs=5e-9)


def test_per_request_money_keeps_at_least_four_decimals() -> None:
    assert money_text(0.0129, min_decimals=4) == "$0.0129"
    assert money_decimals([0.0129, 12.0], 4) == 4
    assert money_decimals([0.00001234], 4) == 6


def test_headings_spell_out_snake_case() -> None:
    assert heading("escalation_overhead_usd") == "Escalation overhead (USD)"
    assert heading("min_volume") == "Min volume"
    assert heading("p95_usd") == "P95 (USD)"


def test_a_money_column_gets_the_decimals_its_smallest_amount_needs() -> None:
    data = pd.DataFrame({"tenant": ["small", "tiny"], "spend": [0.5, 0.00042]})
    _, config = displayed(data, {"spend": money_config("Spend")})
    assert config["spend"]["type_config"]["format"] == "$%.5f"
    _, config = displayed(data.assign(spend=[12.5, 0.5]), {"spend": money_config("Spend")})
    assert config["spend"]["type_config"]["format"] == "dollar"  # cents, and -$2 rather than $-2
    assert MONEY not in str(config)


def test_gaps_read_as_a_dash_and_keep_their_column_format() -> None:
    when = datetime(2026, 12, 5, 15, 10, 29, tzinfo=timezone.utc)
    data = pd.DataFrame(
        {
            "reason": ["timeout", None],
            "requests": [34.0, float("nan")],
            "rate": [0.0037, None],
            "cost": [0.0123, None],
            "since": pd.to_datetime([when, None], utc=True),
            "hidden": [None, None],
        }
    )
    config = {
        "requests": "Requests",
        "rate": {"label": "Rate", "type_config": {"type": "number", "format": "percent"}},
        "cost": money_config("Cost"),
        "hidden": None,
    }
    shown, resolved = displayed(data, config)
    assert shown["reason"].tolist() == ["timeout", MISSING]
    assert shown["requests"].tolist() == ["34", MISSING]
    assert shown["rate"].tolist() == ["0.37%", MISSING]
    assert shown["cost"].tolist() == ["$0.012", MISSING]
    assert shown["since"].tolist() == ["2026-12-05 15:10:29", MISSING]
    assert resolved["requests"]["alignment"] == "right" and resolved["requests"]["label"] == "Requests"
    assert resolved["since"]["label"] == "Since"  # unnamed columns are headed in words
    assert resolved["hidden"] is None
    assert data["reason"].isna().tolist() == [False, True]  # the caller's frame (and its CSV) is untouched


def test_a_table_without_gaps_keeps_its_types() -> None:
    data = pd.DataFrame({"calls": [3, 4], "cost": [1.0, 2.0]})
    shown, config = displayed(data, {"cost": money_config("Cost")})
    assert shown["calls"].dtype.kind == "i"
    assert config["calls"] == {"label": "Calls"}


def test_float_residue_is_zero_not_eight_decimals() -> None:
    assert money_text(-1e-17) == "$0.00"
    assert money_decimals([149.46, -1e-17]) == 2


def test_dollars_beside_fractions_of_a_cent_are_written_amount_by_amount() -> None:
    data = pd.DataFrame({"route": ["a", "b", "c"], "savings": [149.462, 0.00042, -2.5]})
    shown, config = displayed(data, {"savings": money_config("Savings")})
    assert shown["savings"].tolist() == ["$149.46", "$0.00042", "-$2.50"]
    assert config["savings"]["type_config"] == {"type": "text"} and config["savings"]["alignment"] == "right"


def test_an_empty_list_reads_as_a_dash_and_lists_as_text() -> None:
    data = pd.DataFrame({"new_models": [[], ["gpt-5-mini", "o3"]]})
    shown, _ = displayed(data)
    assert shown["new_models"].tolist() == [MISSING, "gpt-5-mini, o3"]


def test_an_empty_string_in_a_text_column_reads_as_a_dash() -> None:
    # pandas 3 infers its string dtype for text, where the gap check used to look at object columns only
    # (the Cost page's "Baseline model" of a route without a top-tier model read as an empty cell).
    data = pd.DataFrame({"route": ["a", "b"], "baseline_model": ["", "gpt-4o"]})
    shown, _ = displayed(data)
    assert list(shown["baseline_model"]) == ["—", "gpt-4o"]
