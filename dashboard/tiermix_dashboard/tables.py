"""A table as the reader sees it: every column headed in words, money to the precision its amounts need,
and no cell that reads "None" or "nan". Pure (pandas in, pandas and column-config dicts out).

Streamlit draws a missing cell as "None" whatever the column type and has no option for it, so a
column with a gap is handed over as text, each value formatted as its column would have shown it,
the gap as an em dash, and aligned right when it holds numbers. Money columns are declared with
``MONEY`` and get their decimals from their own amounts (formats.money_decimals).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from tiermix_dashboard.formats import MISSING, heading, mixed_magnitudes, money_decimals, money_text, number

MONEY = "tiermix-money"  # a NumberColumn format resolved per table from its amounts
_DATETIME = "%Y-%m-%d %H:%M:%S"


def money_config(label: str, help_text: str | None = None, min_decimals: int = 2) -> dict[str, Any]:
    """A number column of money; ``min_decimals`` 4 suits per-request amounts."""
    return _number_config(label, f"{MONEY}:{min_decimals}", help_text)


def _number_config(label: str, fmt: str | None, help_text: str | None = None) -> dict[str, Any]:
    return {"label": label, "help": help_text, "type_config": {"type": "number", "format": fmt}}


def displayed(
    data: pd.DataFrame, config: Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(the frame to draw, its column config): labels for every column, money formats resolved, gaps as
    an em dash."""
    shown = data.copy()
    resolved: dict[str, Any] = {}
    for column in shown.columns:
        if config and column in config and config[column] is None:  # hidden, as st.dataframe has it
            resolved[str(column)] = None
            continue
        spec = (config or {}).get(column)
        if spec is None or isinstance(spec, str):
            spec = {"label": spec or heading(column)}
        else:
            spec = {**spec, "type_config": dict(spec.get("type_config") or {})}
        type_config = spec.get("type_config") or {}
        fmt = type_config.get("format")
        mixed = False
        if isinstance(fmt, str) and fmt.startswith(MONEY):
            minimum = int(fmt.rpartition(":")[2] or 2)
            decimals = money_decimals(shown[column], minimum)
            # Streamlit's "dollar" writes -$2.36 where printf would write $-2.36; it has two decimals only
            type_config["format"] = "dollar" if decimals == 2 else f"$%.{decimals}f"
            mixed = mixed_magnitudes(shown[column], minimum)
            if mixed:  # each amount with its own precision (money_text), as text
                type_config["format"] = f"$%.{minimum}f"
        if mixed or _has_gaps(shown[column]):
            shown[column] = [_cell(value, type_config) for value in shown[column]]
            numeric = type_config.get("type") == "number" or pd.api.types.is_numeric_dtype(data[column])
            spec = {
                "label": spec.get("label"),
                "help": spec.get("help"),
                "width": spec.get("width"),
                "alignment": "right" if numeric else spec.get("alignment"),
                "type_config": {"type": "text"},
            }
        resolved[str(column)] = spec
    return shown, resolved


def _has_gaps(values: pd.Series) -> bool:
    # pandas 3 stores text as its string dtype, not object: an empty string is a gap there too.
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        return any(_missing(value) for value in values)
    return bool(values.isna().any())


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA or (isinstance(value, str) and not value.strip()):
        return True
    if isinstance(value, (list, tuple)) and not value:  # an empty list draws a blank cell
        return True
    return isinstance(value, float) and value != value  # NaN


def _cell(value: Any, type_config: Mapping[str, Any]) -> str:
    """One value as its column's format would have shown it, or the em dash."""
    if _missing(value):
        return MISSING
    fmt = type_config.get("format")
    if isinstance(value, (datetime, pd.Timestamp)):
        return pd.Timestamp(value).strftime(_DATETIME)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool) or number(value) is None:
        return str(value)
    amount = float(value)
    if fmt == "percent":
        return f"{amount:.2%}"
    if fmt == "dollar":
        return money_text(amount)
    if isinstance(fmt, str) and fmt.startswith("$%."):  # money: each amount to its own precision
        return money_text(amount, int(fmt[3:].rstrip("f")))
    if isinstance(fmt, str) and "%" in fmt:
        try:
            return fmt % amount
        except (TypeError, ValueError):
            pass
    # as Streamlit writes an unformatted number (no thousands separator), so columns read alike
    return f"{amount:.0f}" if amount == int(amount) else f"{amount:.4g}"
