"""What a bill says, in one shape whatever its source: cost lines and usage per provider, model and day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class CostLine:
    day: date
    provider: str
    line_item: str  # the bill's own words ("gpt-4o-mini-2024-07-18, input", "Claude Haiku 3.5 Usage - Input")
    model: str  # "" when the line names no model (a web-search fee, a total)
    cost_usd: float


@dataclass(frozen=True, slots=True)
class UsageLine:
    day: date
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    requests: int  # 0 when the provider's report does not count requests


@dataclass
class Bill:
    days: list[date]  # every day the bill covers, including days it bills nothing
    lines: list[CostLine] = field(default_factory=list)
    usage: list[UsageLine] = field(default_factory=list)


class BillFetchError(Exception):
    """A provider's API could not be read (refused key, outage after retries, a shape we do not know)."""
