"""The ingest-facing face of pricing: one call in, its tier and cost out, in a few microseconds.

Resolving a price (genai-prices lookup, overrides, long-context segments) and a tier (rules, price band)
is slow; both are cached so the per-call work is a dict lookup and arithmetic. Price caches are keyed by
(tenant, provider, model) and then by the *price period* of the call's timestamp: the span between two
instants where the price can change (dated genai-prices changes, override ``effective_from``s), refined
to the minute of day for models with off-peak prices. Tenants without overrides of their own share one
cache entry.

Freshness: every ``check_interval_s`` the enricher reads the metadata DB's ``pricing`` change counter (one
indexed row) and rebuilds everything when it moved, so a price or tier change made by the CLI in another
process reaches a running collector within seconds.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

from tiermix_server.pricing.prices import PriceBook, Quote
from tiermix_server.pricing.tiers import Decision, TierMap

log = logging.getLogger("tiermix.pricing")
_MAX_PLANS = 100_000


class Enrichment(NamedTuple):
    """One call's tier and cost. A named tuple: one is built per call ingested, at ~40% of a frozen
    dataclass's cost (0.24 against 0.57 µs measured)."""

    tier: str
    tier_source: str  # "sdk", "rule:<pattern>", "band:<usd_per_mtok>", "unknown"
    cost_usd: float
    price_source: str  # "genai-prices:<provider>/<model>", "override:<id>", "custom:<id>", "sdk", ""
    unpriced: bool


@dataclass(slots=True)
class _Plan:
    """Price periods of one (tenant, provider, model): breakpoints as epoch seconds, quotes per period."""

    breakpoints: list[float]
    time_of_day: bool
    quotes: dict[Any, Quote] = field(default_factory=dict)


@dataclass(slots=True)
class _State:
    version: int
    book: PriceBook
    tier_map: TierMap
    tenants_with_overrides: frozenset[str]
    plans: dict[tuple[str, str, str], _Plan] = field(default_factory=dict)
    tiers: dict[tuple[str, str], Decision] = field(default_factory=dict)


Loader = Callable[[], tuple[PriceBook, TierMap, frozenset[str]]]


class Enricher:
    """Tier and cost for calls; thread-safe (state is swapped whole on reload)."""

    def __init__(
        self,
        loader: Loader,
        version: Callable[[], int],
        *,
        check_interval_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        background: bool = False,
    ) -> None:
        self._loader = loader
        self._version = version
        self._check_interval_s = check_interval_s
        self._clock = clock
        # In a server the check runs on a short-lived thread, so enrich() never waits on the DB.
        self._background = background
        self._refresher: threading.Thread | None = None
        self._reload_lock = threading.Lock()
        self._state = self._load(version())
        self._next_check = clock() + check_interval_s

    def _load(self, version: int) -> _State:
        book, tier_map, tenants = self._loader()
        return _State(version, book, tier_map, tenants)

    def refresh(self, *, force: bool = False) -> None:
        """Reload when the metadata DB changed (or always, with ``force``)."""
        with self._reload_lock:
            self._next_check = self._clock() + self._check_interval_s
            try:
                version = self._version()
                if force or version != self._state.version:
                    self._state = self._load(version)
            except Exception:  # the DB being briefly unavailable must not stop ingest: keep old prices
                log.warning("cannot reload prices and tiers; keeping the cached ones", exc_info=True)

    @property
    def version(self) -> int:
        """The metadata DB's pricing change counter the cached prices and tiers were read at."""
        return self._state.version

    def catch_up(self, version: int) -> None:
        """Reload when another process's enricher (the collector's) has seen a newer ``version``: a
        decode worker then never prices a call with older prices than the collector it serves."""
        if version > self._state.version:  # the counter only grows; a newer one here is kept
            self.refresh(force=True)

    def _due_check(self) -> None:
        self._next_check = self._clock() + self._check_interval_s
        if not self._background:
            self.refresh()
            return
        if self._refresher is None or not self._refresher.is_alive():
            self._refresher = threading.Thread(
                target=self.refresh, name="tiermix-pricing-refresh", daemon=True
            )
            self._refresher.start()

    def wait_refreshed(self, timeout_s: float = 10.0) -> None:
        """Wait for a background check in flight (tests; shutdown)."""
        refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout_s)

    @property
    def tier_map(self) -> TierMap:
        return self._state.tier_map

    def fresh_tier_map(self) -> TierMap:
        """The tier map, checked against the metadata DB at most every ``check_interval_s`` (as ingest
        does), so a query path pays no DB read of its own; a change through the API refreshes at once."""
        if self._clock() >= self._next_check:
            self._due_check()
        return self._state.tier_map

    def price(
        self,
        ts_us: int,
        tenant: str,
        provider: str,
        model: str,
        explicit_tier: str,
        sdk_cost_usd: float | None,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        cache_write_tokens: int,
        reasoning_tokens: int,
    ) -> Enrichment:
        """Tier and cost of one call at ``ts_us`` (µs since the epoch, the call record's unit).

        Positional and free of ``datetime``: it runs once per call on ingest's hot path, where the
        keyword form and a ``datetime`` built only to be turned back into epoch seconds cost a third of
        it (docs/performance.md).
        """
        if self._clock() >= self._next_check:
            self._due_check()
        state = self._state
        if explicit_tier and explicit_tier in state.tier_map.names:
            tier, tier_source = explicit_tier, "sdk"
        else:
            decision = state.tiers.get((provider, model))
            if decision is None:
                decision = self._decide(state, provider, model)
            tier, tier_source = decision.tier, decision.source
        if sdk_cost_usd is not None:
            return Enrichment(tier, tier_source, float(sdk_cost_usd), "sdk", False)
        quote = self._quote_at(ts_us / 1e6, None, tenant, provider, model, state)
        table = quote.table
        if table is None:
            return Enrichment(tier, tier_source, 0.0, "", True)
        cost = table.cost(
            input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens
        )
        return Enrichment(tier, tier_source, cost * quote.factor, quote.source, False)

    def quote(
        self, ts: datetime, tenant: str, provider: str, model: str, state: _State | None = None
    ) -> Quote:
        """The cached price in effect for this call."""
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=timezone.utc)
        return self._quote_at(ts.timestamp(), ts, tenant, provider, model, state or self._state)

    def _quote_at(
        self, epoch: float, ts: datetime | None, tenant: str, provider: str, model: str, state: _State
    ) -> Quote:
        """``quote`` at ``epoch`` seconds; ``ts``, the same instant, is built only on a cache miss."""
        tenant_key = tenant if tenant in state.tenants_with_overrides else ""
        key = (tenant_key, provider, model)
        plan = state.plans.get(key)
        if plan is None:
            if len(state.plans) >= _MAX_PLANS:
                state.plans.clear()  # label cardinality is bounded upstream; this is a safety valve
            instants, time_of_day = state.book.breakpoints(tenant_key, provider, model)
            plan = _Plan([instant.timestamp() for instant in instants], time_of_day)
            state.plans[key] = plan
        period: Any = bisect.bisect_right(plan.breakpoints, epoch)
        if plan.time_of_day:
            period = (period, int(epoch // 60) % 1440)
        quote = plan.quotes.get(period)
        if quote is None:
            at = ts if ts is not None else datetime.fromtimestamp(epoch, timezone.utc)
            quote = state.book.quote(at, tenant_key, provider, model)
            plan.quotes[period] = quote
        return quote

    def _decide(self, state: _State, provider: str, model: str) -> Decision:
        def blended() -> float | None:
            return state.book.quote(datetime.now(timezone.utc), "", provider, model).blended_usd_per_mtok

        decision = state.tier_map.decide(model, provider, blended)
        state.tiers[(provider, model)] = decision
        return decision

    def explain(self, model: str, provider: str = "") -> Decision:
        """Which rule or price band decides ``model``'s tier (uncached, for people)."""
        state = self._state
        return self._decide(state, provider, model)


def load_from_meta(meta: Any) -> tuple[PriceBook, TierMap, frozenset[str]]:
    from tiermix_server.meta.stores import list_overrides, list_rules, list_tiers
    from tiermix_server.pricing.tiers import build_tier_map

    overrides = list_overrides(meta)
    tier_map = build_tier_map(list_tiers(meta), list_rules(meta))
    tenants = frozenset(row.tenant for row in overrides if row.tenant is not None)
    return PriceBook(overrides), tier_map, tenants


def running_enricher(runtime: Any) -> Enricher:
    """The collector's enricher, refreshed from the metadata DB, or one built for this call (a process
    that runs no ingest: the API in a test, a CLI-built app)."""
    if isinstance(runtime.enricher, Enricher):
        runtime.enricher.refresh()
        return runtime.enricher
    return build_enricher(runtime.settings, runtime.metadata(), background=False)


def configured_tier_map(enricher: Any, meta: Any) -> TierMap:
    """The tier map in force: the running collector's (kept fresh), else read from the metadata DB.

    Metrics take "top" and "bottom" from it, so renaming the tiers (``PUT /admin/tiers``) renames
    what frontier share counts instead of silently reading 0.
    """
    if isinstance(enricher, Enricher):
        return enricher.fresh_tier_map()
    return load_from_meta(meta)[1]


def build_enricher(
    settings: Any, meta: Any, *, check_interval_s: float = 2.0, background: bool = True
) -> Enricher:
    """The enricher of a collector process, reading prices and tiers from ``meta``.

    It checks the metadata DB for changes every ``check_interval_s``, on a background thread unless
    ``background=False`` (one-shot users: re-pricing, the CLI).
    """
    from tiermix_server.meta.stores import pricing_version

    return Enricher(
        lambda: load_from_meta(meta),
        lambda: pricing_version(meta),
        check_interval_s=check_interval_s,
        background=background,
    )
