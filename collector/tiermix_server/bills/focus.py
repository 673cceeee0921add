"""A bill from a CSV file: a FOCUS export (the FinOps Open Cost and Usage Specification column names, as
cloud billing exports for Bedrock, Azure OpenAI and Vertex AI write them) or a plain CSV.

- **FOCUS**: ``ChargePeriodStart`` (the day), ``BilledCost`` (what the invoice charges), ``BillingCurrency``
  (USD only), ``ProviderName`` / ``ServiceName`` (mapped to telemetry's provider names: Amazon Bedrock →
  ``aws.bedrock``, Azure OpenAI → ``azure.ai.openai``, Vertex AI → ``gcp.vertex_ai``, OpenAI → ``openai``,
  Anthropic → ``anthropic``), ``ChargeDescription`` / ``SkuId`` (the line item) and, when present, a model
  column (``x_Model``, ``Model``). Rows whose ``ChargeCategory`` is not ``Usage`` (tax, credits,
  purchases) are not usage a call could explain: they are counted apart, not reconciled.
- **Plain**: ``date``, ``provider``, ``cost_usd`` and optionally ``model``, ``line_item``, and usage
  columns ``input_tokens``, ``output_tokens``, ``requests``.

Every bad row is reported with its line number; a file with any is refused whole (a half-imported bill
would read as a gap).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date, datetime

from tiermix_server.bills.bill import Bill, BillFetchError, CostLine, UsageLine

MAX_ROWS = 1_000_000
_SERVICES = (
    ("bedrock", "aws.bedrock"),
    ("azure openai", "azure.ai.openai"),
    ("vertex", "gcp.vertex_ai"),
    ("gemini", "gcp.vertex_ai"),
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("claude", "anthropic"),
)


@dataclass(frozen=True, slots=True)
class Imported:
    bill: Bill
    rows: int
    not_usage_rows: int
    not_usage_usd: float
    format: str  # focus | plain


def provider_of(provider_name: str, service_name: str) -> str:
    text = f"{service_name} {provider_name}".lower()
    for needle, provider in _SERVICES:
        if needle in text:
            return provider
    return provider_name.strip().lower() or "unknown"


def parse(text: str, provider: str | None = None) -> Imported:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = {name.strip().lower(): name for name in reader.fieldnames or []}
    focus = "billedcost" in columns and "chargeperiodstart" in columns
    required = {"date", "cost_usd"} | (set() if provider else {"provider"})
    if not focus and not required <= set(columns):
        raise BillFetchError(
            "not a FOCUS export (BilledCost, ChargePeriodStart) nor a plain bill "
            f"({', '.join(sorted(required))})"
        )

    def get(row: dict[str, str], name: str) -> str:
        key = columns.get(name.lower())
        return (row.get(key) or "").strip() if key else ""

    lines: list[CostLine] = []
    usage: list[UsageLine] = []
    days: set[date] = set()
    errors: list[str] = []
    skipped, skipped_usd, count = 0, 0.0, 0
    for number, row in enumerate(reader, start=2):
        count += 1
        if count > MAX_ROWS:
            raise BillFetchError(f"more than {MAX_ROWS:,} rows: split the file")
        try:
            if focus:
                day = _day(get(row, "ChargePeriodStart"))
                cost = _money(get(row, "BilledCost"))
                currency = get(row, "BillingCurrency").upper() or "USD"
                if currency != "USD":
                    raise ValueError(f"currency {currency}: only USD bills are reconciled")
                category = get(row, "ChargeCategory")
                days.add(day)
                if category and category.lower() != "usage":
                    skipped, skipped_usd = skipped + 1, skipped_usd + cost
                    continue
                name = provider or provider_of(get(row, "ProviderName"), get(row, "ServiceName"))
                item = (
                    get(row, "ChargeDescription") or get(row, "SkuId") or get(row, "ServiceName") or "(usage)"
                )
                model = get(row, "x_Model") or get(row, "Model")
                lines.append(CostLine(day, name, item[:500], model[:200], cost))
            else:
                day = _day(get(row, "date"))
                cost = _money(get(row, "cost_usd"))
                name = provider or get(row, "provider").lower()
                if not name:
                    raise ValueError("no provider")
                model = get(row, "model")
                days.add(day)
                lines.append(
                    CostLine(
                        day, name, (get(row, "line_item") or model or "(usage)")[:500], model[:200], cost
                    )
                )
                if get(row, "input_tokens") or get(row, "output_tokens"):
                    usage.append(
                        UsageLine(
                            day,
                            name,
                            model,
                            _count(get(row, "input_tokens")),
                            _count(get(row, "output_tokens")),
                            0,
                            _count(get(row, "requests")),
                        )
                    )
        except ValueError as exc:
            errors.append(f"line {number}: {exc}")
            if len(errors) >= 20:
                break
    if errors:
        raise BillFetchError("the file is not imported: " + "; ".join(errors))
    return Imported(
        Bill(sorted(days), lines, usage), count, skipped, skipped_usd, "focus" if focus else "plain"
    )


def _day(text: str) -> date:
    if not text:
        raise ValueError("no date")
    try:
        return (
            datetime.fromisoformat(text.replace("Z", "+00:00")).date()
            if "T" in text
            else date.fromisoformat(text[:10])
        )
    except ValueError:
        raise ValueError(f"{text!r} is not a date") from None


def _money(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"cost {text!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > 1e12:
        raise ValueError(f"cost {text!r} is out of range")
    return value


def _count(text: str) -> int:
    if not text:
        return 0
    try:
        value = int(float(text))
    except ValueError:
        raise ValueError(f"{text!r} is not a count") from None
    if value < 0:
        raise ValueError(f"{text!r} is negative")
    return value
