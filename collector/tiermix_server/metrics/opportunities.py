"""Opportunities: where a cheaper tier would serve traffic now sent straight to the top tier.

Per tenant x route over the window, by input-token band (``BANDS``: a long-context slice is never judged
by short prompts):

- **top-direct requests**: requests whose first attempt ran on the top tier;
- **cascade evidence** for a lower tier T: requests whose first attempt ran on T, and how many of them T
  answered (the attempt was final and ok: not escalated, not failed over), with a 95% Wilson interval
  (wilson.py). Nothing else counts as evidence; a band without it says ``no evidence``;
- **estimated savings** if the band's top-direct requests started on T: with acceptance p, each still
  pays T and, when T is not accepted, the top tier again, so saving = p x top cost - cost on T. The top
  cost is what those requests' first attempts cost; the cost on T prices their own token counts at T's
  most used model on the route, through the price book. The estimate uses the interval's **lower** bound
  (conservative) and gives the interval; it is scaled from the window to a 30-day month;
- **over-specified spend**: the top-direct spend a lower tier would have served at the lower bound, p_low
  x top cost of the bands with evidence; its share of the route's spend is the figure audits quote.

Money is scaled to a month from the span the data covers (first call in the window → end).

Every figure is an estimate and says so; requests on unpriced models are counted and left out of money.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from tiermix_server.metrics.filters import Filters, Params, raw_where
from tiermix_server.metrics.wilson import Interval, wilson

# Input-token bands: [lower, upper) token counts. Upper bounds are chosen where providers' long-context
# prices and models' quality usually change.
BANDS: tuple[tuple[int, int | None], ...] = ((0, 1_000), (1_000, 4_000), (4_000, 16_000), (16_000, 64_000),
                                             (64_000, None))  # fmt: skip
MONTH = timedelta(days=30)

# A price quote for (tenant, provider, model) at a time: pricing.enricher.Enricher.quote.
Quoter = Callable[[datetime, str, str, str], Any]


def band_label(index: int) -> str:
    low, high = BANDS[index]
    return f"{low}+" if high is None else f"{low}-{high - 1}"


def _band_sql(column: str) -> str:
    cases = ", ".join(f"{column} < {high}, {index}" for index, (_, high) in enumerate(BANDS) if high)
    return f"multiIf({cases}, {len(BANDS) - 1})"


@dataclass(frozen=True, slots=True)
class Cell:
    """First attempts of one tenant x route x tier x band."""

    requests: int = 0
    accepted: int = 0
    priced_requests: int = 0
    cost_usd: float = 0.0  # first attempts, priced ones
    input_tokens: int = 0  # of the priced first attempts: what would be re-priced on a lower tier
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


_CELL_FIELDS = tuple(f.name for f in fields(Cell))


@dataclass(frozen=True, slots=True)
class BandEstimate:
    band: str
    top_direct_requests: int
    top_direct_cost_usd: float
    unpriced_top_direct: int
    evidence: str  # "cascade" | "no evidence"
    candidate_tier: str | None
    candidate_model: str | None
    tried_on_candidate: int  # first attempts on the candidate tier (the sample)
    accepted_on_candidate: int
    acceptance: float | None
    acceptance_low: float | None
    acceptance_high: float | None
    cost_on_candidate_usd: float | None  # the top-direct requests' tokens priced at the candidate model
    savings_usd: float | None  # in the window; low/high from the acceptance interval
    savings_low_usd: float | None
    savings_high_usd: float | None
    over_specified_usd: float  # acceptance_low x top-direct cost (0 without evidence)


@dataclass(frozen=True, slots=True)
class Opportunity:
    tenant: str
    route: str
    requests: int
    spend_usd: float
    requests_by_tier: dict[str, int]  # by the tier of the first attempt
    spend_by_tier: dict[str, float]  # by the tier of each call
    top_direct_share: float | None
    over_specified_usd: float
    over_specified_share: float | None
    monthly_savings_usd: float
    monthly_savings_low_usd: float
    monthly_savings_high_usd: float
    confidence: str  # "high" | "medium" | "low" | "none": how much of the estimate rests on evidence
    evidence_requests: int
    bands: list[BandEstimate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Opportunities:
    start: datetime
    end: datetime
    observed_start: datetime  # the first call in the window: money is scaled from [observed_start, end)
    top_tier: str
    month_factor: float  # 30 days / (end - observed_start): window figures x this = per month
    spend_usd: float
    over_specified_usd: float
    over_specified_share: float | None
    monthly_savings_low_usd: float
    rows: list[Opportunity]


def opportunities(client: Any, filters: Filters, tier_list: tuple[str, ...], quote: Quoter) -> Opportunities:
    """The ranked opportunities of ``filters``' scope; ``tier_list`` is the tier map's order, bottom first."""
    top = tier_list[-1]
    lower = set(tier_list[:-1])
    cells, models = _first_attempts(client, filters)
    spend = _spend_by_tier(client, filters)
    # Scaled by the span the data covers, not the window asked for: a tenant that started sending a week
    # ago has a week of traffic, and 30/30 would understate its month four times.
    observed_start = max(filters.start, _first_call(client, filters) or filters.end)
    span = filters.end - observed_start
    month_factor = MONTH / span if span > timedelta(0) else 0.0
    routes = sorted({key[:2] for key in cells} | set(spend))
    rows = []
    for tenant, route in routes:
        route_cells = {key[2:]: cell for key, cell in cells.items() if key[:2] == (tenant, route)}
        bands = [
            _estimate(
                band,
                route_cells,
                models.get((tenant, route), {}),
                top,
                lower,
                tier_list,
                quote,
                filters.end,
                tenant,
            )
            for band in range(len(BANDS))
            if route_cells.get((top, band), Cell()).requests
        ]
        rows.append(_opportunity(tenant, route, route_cells, spend.get((tenant, route), {}), bands, top,
                                 month_factor))  # fmt: skip
    rows.sort(key=lambda r: (-r.monthly_savings_low_usd, -r.over_specified_usd, r.tenant, r.route))
    total = sum(r.spend_usd for r in rows)
    over = sum(r.over_specified_usd for r in rows)
    return Opportunities(
        filters.start, filters.end, observed_start, top, month_factor, total, over,
        over / total if total > 0 else None, sum(r.monthly_savings_low_usd for r in rows), rows,
    )  # fmt: skip


def _first_attempts(
    client: Any, filters: Filters
) -> tuple[dict[tuple[str, str, str, int], Cell], dict[tuple[str, str], dict[str, tuple[str, str, int]]]]:
    params = Params()
    where = raw_where(filters, params, filters.start, filters.end) + " AND c.attempt = 0"
    priced = "NOT c.unpriced"
    sql = (
        "SELECT c.tenant AS tenant, c.route AS route, c.tier AS tier, "
        f"{_band_sql('c.input_tokens')} AS band, c.provider AS provider, c.model AS model, "
        "count() AS requests, "
        "countIf(c.final AND c.status = 'ok') AS accepted, "
        f"countIf({priced}) AS priced_requests, sumIf(c.cost_usd, {priced}) AS cost_usd, "
        f"sumIf(c.input_tokens, {priced}) AS input_tokens, "
        f"sumIf(c.output_tokens, {priced}) AS output_tokens, "
        f"sumIf(c.cache_read_tokens, {priced}) AS cache_read_tokens, "
        f"sumIf(c.cache_write_tokens, {priced}) AS cache_write_tokens, "
        f"sumIf(c.reasoning_tokens, {priced}) AS reasoning_tokens "
        f"FROM llm_calls AS c {where} GROUP BY tenant, route, tier, band, provider, model"
    )
    cells: dict[tuple[str, str, str, int], list[float]] = defaultdict(lambda: [0] * len(_CELL_FIELDS))
    # tenant, route → tier → (provider, model, first attempts): the model that represents the tier there
    models: dict[tuple[str, str], dict[str, tuple[str, str, int]]] = defaultdict(dict)
    counts: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
    for row in client.query(sql, parameters=params.values).named_results():
        cell = cells[(row["tenant"], row["route"], row["tier"], int(row["band"]))]
        for index, name in enumerate(_CELL_FIELDS):
            cell[index] += row[name]
        counts[(row["tenant"], row["route"], row["tier"], row["provider"], row["model"])] += row["requests"]
    for (tenant, route, tier, provider, model), n in sorted(counts.items()):
        best = models[(tenant, route)].get(tier)
        if best is None or n > best[2]:
            models[(tenant, route)][tier] = (provider, model, n)
    built = {key: _cell(values) for key, values in cells.items()}
    return built, models


def _cell(values: list[float]) -> Cell:
    named: dict[str, Any] = {
        name: float(value) if name == "cost_usd" else int(value)
        for name, value in zip(_CELL_FIELDS, values, strict=True)
    }
    return Cell(**named)


def _first_call(client: Any, filters: Filters) -> datetime | None:
    params = Params()
    where = raw_where(filters, params, filters.start, filters.end)
    rows = client.query(f"SELECT min(c.ts), count() FROM llm_calls AS c {where}", parameters=params.values)
    first, calls = rows.result_rows[0]
    if not calls:
        return None
    return first if first.tzinfo is not None else first.replace(tzinfo=filters.start.tzinfo)


def _spend_by_tier(client: Any, filters: Filters) -> dict[tuple[str, str], dict[str, float]]:
    params = Params()
    where = raw_where(filters, params, filters.start, filters.end)
    sql = (
        "SELECT c.tenant AS tenant, c.route AS route, c.tier AS tier, "
        f"sumIf(c.cost_usd, NOT c.unpriced) AS spend FROM llm_calls AS c {where} GROUP BY tenant, route, tier"
    )
    spend: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for row in client.query(sql, parameters=params.values).named_results():
        spend[(row["tenant"], row["route"])][row["tier"]] = float(row["spend"])
    return spend


def _estimate(
    band: int,
    cells: dict[tuple[str, int], Cell],
    models: dict[str, tuple[str, str, int]],
    top: str,
    lower: set[str],
    tier_list: tuple[str, ...],
    quote: Quoter,
    at: datetime,
    tenant: str,
) -> BandEstimate:
    direct = cells[(top, band)]
    unpriced = direct.requests - direct.priced_requests
    best: BandEstimate | None = None
    for tier in tier_list:  # cheapest first: on equal savings the cheaper tier is proposed
        if tier not in lower or tier not in models:
            continue
        tried = cells.get((tier, band), Cell())
        if tried.requests == 0:
            continue
        provider, model, _ = models[tier]
        price = quote(at, tenant, provider, model)
        interval = wilson(tried.accepted, tried.requests)
        cost_on_tier = None if price.unpriced else price.cost(
            direct.input_tokens, direct.output_tokens, direct.cache_read_tokens, direct.cache_write_tokens,
            direct.reasoning_tokens,
        )  # fmt: skip
        candidate = _band_estimate(band, direct, unpriced, tier, model, interval, cost_on_tier)
        if best is None or (candidate.savings_low_usd or 0.0) > (best.savings_low_usd or 0.0):
            best = candidate
    if best is not None:
        return best
    return BandEstimate(
        band_label(band), direct.requests, direct.cost_usd, unpriced, "no evidence", None, None, 0, 0,
        None, None, None, None, None, None, None, 0.0,
    )  # fmt: skip


def _band_estimate(
    band: int,
    direct: Cell,
    unpriced: int,
    tier: str,
    model: str,
    interval: Interval,
    cost_on_tier: float | None,
) -> BandEstimate:
    top_cost = direct.cost_usd

    def saving(acceptance: float) -> float | None:
        return None if cost_on_tier is None else acceptance * top_cost - cost_on_tier

    return BandEstimate(
        band=band_label(band),
        top_direct_requests=direct.requests,
        top_direct_cost_usd=top_cost,
        unpriced_top_direct=unpriced,
        evidence="cascade",
        candidate_tier=tier,
        candidate_model=model,
        tried_on_candidate=interval.trials,
        accepted_on_candidate=interval.successes,
        acceptance=interval.share,
        acceptance_low=interval.low,
        acceptance_high=interval.high,
        cost_on_candidate_usd=cost_on_tier,
        savings_usd=saving(interval.share or 0.0),
        savings_low_usd=saving(interval.low),
        savings_high_usd=saving(interval.high),
        over_specified_usd=interval.low * top_cost,
    )


def _opportunity(
    tenant: str,
    route: str,
    cells: dict[tuple[str, int], Cell],
    spend_by_tier: dict[str, float],
    bands: list[BandEstimate],
    top: str,
    month_factor: float,
) -> Opportunity:
    by_tier: dict[str, int] = defaultdict(int)
    for (tier, _band), cell in cells.items():
        by_tier[tier] += cell.requests
    requests = sum(by_tier.values())
    spend = sum(spend_by_tier.values())
    over = sum(b.over_specified_usd for b in bands)
    # A band whose conservative saving is negative is not worth moving: it adds nothing (never subtracts).
    low = sum(max(b.savings_low_usd or 0.0, 0.0) for b in bands)
    point = sum(max(b.savings_usd or 0.0, 0.0) for b in bands)
    high = sum(max(b.savings_high_usd or 0.0, 0.0) for b in bands)
    evidence = sum(b.tried_on_candidate for b in bands)
    return Opportunity(
        tenant=tenant,
        route=route,
        requests=requests,
        spend_usd=spend,
        requests_by_tier=dict(sorted(by_tier.items())),
        spend_by_tier=dict(sorted(spend_by_tier.items())),
        top_direct_share=by_tier.get(top, 0) / requests if requests else None,
        over_specified_usd=over,
        over_specified_share=over / spend if spend > 0 else None,
        monthly_savings_usd=point * month_factor,
        monthly_savings_low_usd=low * month_factor,
        monthly_savings_high_usd=high * month_factor,
        confidence=_confidence(bands),
        evidence_requests=evidence,
        bands=bands,
    )


def _confidence(bands: list[BandEstimate]) -> str:
    """How tight the evidence is where the money is: the widest acceptance interval among the bands that
    carry at least a tenth of the route's conservative saving (none: nothing worth moving)."""
    positive = [b for b in bands if (b.savings_low_usd or 0.0) > 0]
    total = sum(b.savings_low_usd or 0.0 for b in positive)
    if not positive or total <= 0:
        return "none"
    carrying = [b for b in positive if (b.savings_low_usd or 0.0) >= 0.1 * total]
    widest = max((b.acceptance_high or 0.0) - (b.acceptance_low or 0.0) for b in carrying)
    return "high" if widest <= 0.1 else "medium" if widest <= 0.25 else "low"
