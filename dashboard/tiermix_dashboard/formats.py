"""How a number reads on the dashboard: money whose precision follows the amount, shares as percentages,
and column names a FinOps reader does not have to decode. Pure: no Streamlit, no I/O.

Money keeps cents for amounts of a dollar and more, and below a dollar as many decimals as the amount
needs for two significant digits (at most eight), so a small tenant's $0.0023 never reads as "$0.00".
Exactly zero is "$0.00".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

MISSING = "—"  # what a missing value reads as: "None" and "nan" read like values to FinOps
MAX_DECIMALS = 8
# Sums of float costs leave residues like -1e-17 where the true amount is 0: under a billionth of a
# dollar is read as zero (no priced call costs that little: the cheapest token is ~1e-8 dollars).
NOISE_USD = 1e-9
# words that read better spelled out (or in capitals) in a column heading
_WORDS = {"usd": "(USD)", "pp": "(pp)", "ms": "(ms)", "id": "id", "p50": "p50", "p95": "p95", "js": "JS",
          "psi": "PSI", "ttft": "TTFT", "api": "API", "csv": "CSV"}  # fmt: skip


def number(value: Any) -> float | None:
    """A finite float, or None for anything missing or not a number (None, NaN, "", inf)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def money_decimals(values: Iterable[Any], min_decimals: int = 2) -> int:
    """Decimals that show every non-zero amount of ``values`` with two significant digits."""
    amounts = [abs(n) for n in map(number, values) if n and abs(n) >= NOISE_USD]
    if not amounts:
        return min_decimals
    smallest = min(amounts)
    if smallest >= 1:
        return min_decimals
    return max(min_decimals, min(MAX_DECIMALS, 1 - math.floor(math.log10(smallest))))


def money_text(value: Any, min_decimals: int = 2) -> str:
    """ "$1,234.56", "$0.0023", "-$2.36"; a missing amount is "n/a" (never $0)."""
    amount = number(value)
    if amount is None:
        return "n/a"
    if abs(amount) < NOISE_USD:
        amount = 0.0
    decimals = money_decimals([amount], min_decimals)
    text = f"{abs(amount):,.{decimals}f}"
    if decimals > min_decimals:  # "$0.050" → "$0.05": the extra digits were only for tiny amounts
        whole, _, fraction = text.partition(".")
        text = f"{whole}.{fraction.rstrip('0').ljust(min_decimals, '0')}"
    return f"{'-' if amount < 0 else ''}${text}"


def mixed_magnitudes(values: Iterable[Any], min_decimals: int = 2) -> bool:
    """True when one column format cannot serve every amount: dollars beside fractions of a cent would
    all get eight decimals. Such a column is written amount by amount instead."""
    amounts = [abs(n) for n in map(number, values) if n is not None]
    return bool(amounts) and max(amounts) >= 1 and money_decimals(amounts, min_decimals) > min_decimals + 2


def heading(column: str) -> str:
    """``escalation_overhead_usd`` → "Escalation overhead (USD)"."""
    words = [_WORDS.get(word, word) for word in str(column).split("_") if word]
    if not words:
        return str(column)
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])
