"""Every table on every page, as Streamlit is told to draw it: no gap, no unresolved format, and no
non-zero amount of money that its column's precision would print as $0.00.

The browser sees a table only through its accessible grid (raw values), so the formats the canvas
draws with are checked here, from the column config each ``st.dataframe`` sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.integration.dashboard.test_dashboard_states import PAGES

_PRINTF_MONEY = re.compile(r"^\$%\.(\d+)f$")


def money_decimals_of(column_config: dict[str, Any]) -> int | None:
    fmt = (column_config.get("type_config") or {}).get("format")
    if fmt == "dollar":
        return 2
    match = _PRINTF_MONEY.match(str(fmt or ""))
    return int(match.group(1)) if match else None


def problems_of(app: AppTest) -> list[str]:
    problems = []
    for element in app.dataframe:
        config: dict[str, Any] = json.loads(element.proto.columns or "{}")
        frame: pd.DataFrame = element.value
        if "tiermix-money" in element.proto.columns:
            problems.append(f"unresolved money format in {list(frame.columns)}")
        for column in frame.columns:
            spec = config.get(str(column)) or {}
            if spec.get("hidden"):
                continue
            if frame[column].isna().any():
                problems.append(f"{column!r} has a gap Streamlit draws as None")
            decimals = money_decimals_of(spec)
            if decimals is None or not pd.api.types.is_numeric_dtype(frame[column]):
                continue
            for value in frame[column]:
                if value and abs(value) >= 1e-9 and round(abs(float(value)), decimals) == 0:
                    problems.append(f"{column!r}: {value} shown with {decimals} decimals reads $0.00")
    return problems


@pytest.mark.parametrize("page", PAGES)
def test_no_table_shows_a_gap_or_a_non_zero_amount_as_zero(
    open_page: Callable[..., AppTest], page: str
) -> None:
    app = open_page(None if page == "overview" else page)
    assert problems_of(app) == []


def test_the_calls_table_and_a_cascade_resolve_their_money_formats(
    open_page: Callable[..., AppTest],
) -> None:
    app = open_page("calls")
    assert app.dataframe, "the Calls page shows no table"
    assert all("tiermix-money" not in element.proto.columns for element in app.dataframe)
