"""Which price a call pays: genai-prices for the call's own time, with overrides on top.

An override (metadata DB) is a discount off the genai-prices cost, or a custom per-token price (the only
way to price self-hosted and private models). Each has an ``effective_from``; for a call at ``ts`` the
latest override in effect wins, a tenant's own override before a global one. A model that nothing
prices is *unpriced*: ``Quote.table`` is ``None`` and the caller stores ``unpriced = true``, never $0.

Everything here is pure given a ``PriceBook`` (the overrides loaded once); the enricher caches quotes.
"""

from __future__ import annotations

import bisect
import fnmatch
from dataclasses import dataclass
from datetime import datetime

from tiermix_server.meta.stores import OverrideRow
from tiermix_server.pricing.genai import PriceTable, UnitPrices, base_table, breakpoints, genai_provider_id


@dataclass(frozen=True, slots=True)
class Quote:
    """The price in effect for one (tenant, provider, model) at one time."""

    table: PriceTable | None
    source: str  # genai-prices:<provider>/<model> | override:<id> | custom:<id> | "" when unpriced
    factor: float = 1.0  # a discount's multiplier on the table's cost

    @property
    def unpriced(self) -> bool:
        return self.table is None

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int, reasoning: int
    ) -> float:
        if self.table is None:
            return 0.0
        return self.table.cost(input_tokens, output_tokens, cache_read, cache_write, reasoning) * self.factor

    @property
    def blended_usd_per_mtok(self) -> float | None:
        return None if self.table is None else self.table.blended_usd_per_mtok * self.factor


def custom_table(row: OverrideRow) -> PriceTable:
    """A custom price as a table; cache reads and writes default to the input price when not given."""
    per_token = 1e-6
    input_price = (row.input_usd_per_mtok or 0.0) * per_token
    return PriceTable(
        (),
        (
            UnitPrices(
                input=input_price,
                output=(row.output_usd_per_mtok or 0.0) * per_token,
                cache_read=input_price
                if row.cache_read_usd_per_mtok is None
                else row.cache_read_usd_per_mtok * per_token,
                cache_write=input_price
                if row.cache_write_usd_per_mtok is None
                else row.cache_write_usd_per_mtok * per_token,
            ),
        ),
    )


def _provider_matches(row_provider: str | None, provider: str) -> bool:
    if not row_provider:
        return True
    wanted = row_provider.strip().lower()
    given = provider.strip().lower()
    if wanted == given:
        return True
    canonical = genai_provider_id(wanted)
    return canonical is not None and canonical == genai_provider_id(given)


class PriceBook:
    """All overrides, indexed for lookups by (tenant, provider, model)."""

    def __init__(self, overrides: list[OverrideRow]) -> None:
        self._exact: dict[str, list[OverrideRow]] = {}
        self._patterns: list[OverrideRow] = []
        for row in overrides:
            if any(char in row.model for char in "*?["):
                self._patterns.append(row)
            else:
                self._exact.setdefault(row.model, []).append(row)

    def applicable(self, tenant: str, provider: str, model: str) -> list[OverrideRow]:
        """Overrides that may apply to this tenant/provider/model, oldest effective first."""
        name = model.strip().lower()
        rows = list(self._exact.get(name, ()))
        rows.extend(row for row in self._patterns if fnmatch.fnmatchcase(name, row.model))
        rows = [
            row
            for row in rows
            if (row.tenant is None or row.tenant == tenant) and _provider_matches(row.provider, provider)
        ]
        rows.sort(key=lambda row: (row.effective_from, row.id))
        return rows

    def breakpoints(self, tenant: str, provider: str, model: str) -> tuple[tuple[datetime, ...], bool]:
        """Instants where this call's price may change, and whether it also varies by time of day."""
        dates, time_of_day = breakpoints(provider, model)
        own = {row.effective_from for row in self.applicable(tenant, provider, model)}
        return tuple(sorted(set(dates) | own)), time_of_day

    def quote(self, ts: datetime, tenant: str, provider: str, model: str) -> Quote:
        rows = self.applicable(tenant, provider, model)
        chosen = _in_effect([row for row in rows if row.tenant is not None], ts) or _in_effect(
            [row for row in rows if row.tenant is None], ts
        )
        if chosen is not None and chosen.kind == "custom":
            return Quote(custom_table(chosen), f"custom:{chosen.id}")
        base = base_table(provider, model, ts)
        if base is None:
            return Quote(None, "")
        table, source = base
        if chosen is not None:  # a discount off the genai-prices cost
            return Quote(table, f"override:{chosen.id}", 1.0 - float(chosen.discount_pct or 0.0) / 100.0)
        return Quote(table, source)


def _in_effect(rows: list[OverrideRow], ts: datetime) -> OverrideRow | None:
    """The last row whose ``effective_from`` is at or before ``ts`` (rows sorted by effective_from)."""
    position = bisect.bisect_right([row.effective_from for row in rows], ts)
    return rows[position - 1] if position else None


def parse_instant(text: str, *, what: str = "date") -> datetime:
    """``2026-01-05`` or an ISO-8601 timestamp; naive values are UTC. Raises ``BadRequest``."""
    from datetime import timezone

    from tiermix_server.errors import BadRequest
    from tiermix_server.store.clickhouse import EARLIEST, LATEST

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{what} {text!r} is not an ISO-8601 date or timestamp (e.g. 2026-01-05)") from None
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if not EARLIEST <= value <= LATEST:
        raise BadRequest(f"{what} {text!r} is outside {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}")
    return value
