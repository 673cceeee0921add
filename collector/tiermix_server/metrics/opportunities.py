"""Opportunities: where a cheaper tier would serve traffic now sent straight to the top tier.

Per tenant x route over the window, by input-token band (bands.py: a long-context slice is never judged
by short prompts), read from the daily rollup by band (sources.py ``BY_BAND``):

- **top-direct requests**: requests whose first attempt ran on the top tier;
- **cascade evidence** for a lower tier T: requests whose first attempt ran on T, and how many of them T
  answered (the attempt was final and ok: not escalated, not failed over), with a 95% Wilson interval
  (wilson.py). Where the
  router records a score, top-direct requests are judged by the lower tier's first attempts in their
  own score bins only (``_evidence_groups``): the easy requests a router sends down anyway say nothing
  about the hard ones it sends up;
- **replay evidence** for T (``replay_evidence.py``): a shadow replay's verdicts on a random sample of
  the band's own top-direct requests, on T's candidate model. Where the latest replay of T judged at
  least ``MIN_GROUP_TRIALS`` of the band's requests, it judges the whole band (it is about these very
  requests) and the band says ``evidence: "replay"``. Nothing else counts as evidence; a band with
  neither says ``no evidence``;
- **estimated savings** if the band's top-direct requests started on T: with acceptance p, each still
  pays T and, when T is not accepted, the top tier again, so saving = p x top cost - cost on T. The top
  cost is what those requests' first attempts cost; the cost on T prices their own token counts at T's
  most used model on the route, through the price book. The estimate uses the interval's **lower** bound
  (conservative) and gives the interval; it is scaled from the window to a 30-day month;
- **over-specified spend**: the top-direct spend a lower tier would have served at the lower bound, p_low
  x top cost of the bands with evidence; its share of the route's spend is the figure audits quote.

Money is scaled to a month from the span the data covers (the minute of the first call in the window →
end).

Every figure is an estimate and says so; requests on unpriced models are counted and left out of money.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from tiermix_server.metrics.bands import NO_SCORE, OUT_OF_RANGE, band_label, higher_goes_up
from tiermix_server.metrics.filters import Filters, Params
from tiermix_server.metrics.replay_evidence import Replayed, replay_bands
from tiermix_server.metrics.sources import BY_BAND, CALLS, DAY_S, HOUR_S, MINUTE_S, counters_source, summed
from tiermix_server.metrics.wilson import Interval, wilson

MONTH = timedelta(days=30)
# A month is never extrapolated from less than a day of traffic: an hour's calls x 720 is not a forecast
# (the replay result, replay/results.py, scales the same way).
MIN_OBSERVED = timedelta(days=1)
# Requests carrying a routing score are judged within score bins (bands.py): a lower tier's first attempts
# are evidence only in the bins where the top tier's own requests are, pooled from the easy end until a
# pool holds MIN_GROUP_TRIALS trials (harder requests are never judged by easier ones alone).
MIN_GROUP_TRIALS = 10
CellKey = tuple[str, str, str, int, int]  # tenant, route, tier, band, score bin

# A price quote for (tenant, provider, model) at a time: pricing.enricher.Enricher.quote.
Quoter = Callable[[datetime, str, str, str], Any]


class Cell(NamedTuple):
    """First attempts of one tenant x route x tier x band x score bin."""

    requests: int = 0
    accepted: int = 0
    priced_requests: int = 0
    cost_usd: float = 0.0  # first attempts, priced ones
    input_tokens: int = 0  # of the priced first attempts: what would be re-priced on a lower tier
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def tokens(self) -> tuple[int, int, int, int, int]:
        """What a price's ``cost`` takes, in its order."""
        return (self.input_tokens, self.output_tokens, self.cache_read_tokens, self.cache_write_tokens,
                self.reasoning_tokens)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BandEstimate:
    band: str
    top_direct_requests: int
    top_direct_cost_usd: float
    unpriced_top_direct: int
    evidence: str  # "cascade" | "replay" | "no evidence"
    candidate_tier: str | None
    candidate_model: str | None
    tried_on_candidate: int  # the sample: first attempts on the candidate tier, or replayed requests
    accepted_on_candidate: int
    moved_requests: int  # top-direct requests with evidence: the ones the estimate moves
    extrapolated_requests: int  # of those, harder than every trial: acceptance bounded in [0, easier's high]
    by_score: bool  # evidence read within routing-score bins (else at every score: no score recorded)
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
        # field by field: dataclasses.asdict deep-copies, and a month of routes is thousands of bands
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "bands"}
        row["bands"] = [{f.name: getattr(band, f.name) for f in fields(band)} for band in self.bands]
        return row


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


def per_month(observed: timedelta) -> float:
    """The factor from figures over ``observed`` traffic to 30 days (none without traffic)."""
    return MONTH / max(observed, MIN_OBSERVED) if observed > timedelta(0) else 0.0


def opportunities(
    client: Any, filters: Filters, tier_list: tuple[str, ...], quote: Quoter, *, until: datetime | None = None
) -> Opportunities:
    """The ranked opportunities of ``filters``' scope; ``tier_list`` is the tier map's order, bottom first.

    ``until`` (default: the window's end) is where observed time ends, for the scaling to a month: a
    window that runs on to midnight has no calls yet after now."""
    top = tier_list[-1]
    lower = set(tier_list[:-1])
    cells, directions = _first_attempts(client, filters, top)
    replayed: dict[tuple[str, str], dict[tuple[str, int], Replayed]] = defaultdict(dict)
    for (tenant, route, tier, band), verdicts in replay_bands(client, filters, top).items():
        replayed[(tenant, route)][(tier, band)] = verdicts
    totals, models = _route_totals(client, filters)
    # Scaled by the span the data covers, not the window asked for: a tenant that started sending a week
    # ago has a week of traffic, and 30/30 would understate its month four times.
    observed_start = max(filters.start, _first_call(client, filters) or filters.end)
    span = min(until or filters.end, filters.end) - observed_start
    month_factor = per_month(span)
    by_route: dict[tuple[str, str], dict[tuple[str, int, int], Cell]] = defaultdict(dict)
    for key, cell in cells.items():
        by_route[key[:2]][key[2:]] = cell
    rows = []
    for tenant, route in sorted(set(by_route) | set(totals)):
        route_replays = replayed.get((tenant, route), {})
        route_cells = by_route.get((tenant, route), {})
        direct_bands = sorted({band for tier, band, _ in route_cells if tier == top})
        higher = directions.get((tenant, route), True)
        route_models = models.get((tenant, route), {})
        by_tier_band: dict[tuple[str, int], dict[int, Cell]] = defaultdict(dict)
        for (tier, band, score_bin), cell in route_cells.items():
            by_tier_band[(tier, band)][score_bin] = cell
        bands = [
            _estimate(
                band,
                by_tier_band,
                route_models,
                top,
                lower,
                tier_list,
                quote,
                filters.end,
                tenant,
                higher,
                route_replays,
            )
            for band in direct_bands
        ]
        rows.append(_opportunity(tenant, route, totals.get((tenant, route), {}), bands, top, month_factor))
    rows.sort(key=lambda r: (-r.monthly_savings_low_usd, -r.over_specified_usd, r.tenant, r.route))
    total = sum(r.spend_usd for r in rows)
    over = sum(r.over_specified_usd for r in rows)
    return Opportunities(
        filters.start, filters.end, observed_start, top, month_factor, total, over,
        over / total if total > 0 else None, sum(r.monthly_savings_low_usd for r in rows), rows,
    )  # fmt: skip


# the rollup's counters that make a Cell, in its order (``calls`` of first attempts are Cell.requests)
CELL_COUNTERS = ("calls", "accepted", "priced", "cost_usd", "input_tokens", "output_tokens",
                  "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")  # fmt: skip


def _first_attempts(
    client: Any, filters: Filters, top: str
) -> tuple[dict[CellKey, Cell], dict[tuple[str, str], bool]]:
    """First attempts per tenant x route x tier x band x score bin (the daily rollup, raw at the edges):
    the top tier's, and the lower tiers' where they can be evidence (a bin holding top-tier requests, or
    no score). Also each route's direction (``higher_goes_up``: does a higher score send a request to
    the top tier?)."""
    params = Params()
    dims = ("tenant", "route", "tier", "band", "score_bin", "first")
    source = counters_source(filters, params, CELL_COUNTERS, dims, max_step_s=DAY_S, family=BY_BAND)
    top_param = params.add(top, "String")
    is_top = f"s.tier = {top_param}"
    placed = "s.score_bin >= 0"
    route_window = "OVER (PARTITION BY s.tenant, s.route)"
    # a score outside [0, 1] cannot be placed: it is read as no score
    inner = (
        f"SELECT s.tenant AS tenant, s.route AS route, s.tier AS tier, s.band AS band, "
        f"if(s.score_bin = {OUT_OF_RANGE}, {NO_SCORE}, s.score_bin) AS bin, {summed(CELL_COUNTERS)}, "
        f"max({is_top}) OVER (PARTITION BY s.tenant, s.route, s.band, bin) AS beside_top, "
        f"sum(sumIf(s.score_bin * s.calls, {is_top} AND {placed})) {route_window} AS top_weight, "
        f"sum(sumIf(s.calls, {is_top} AND {placed})) {route_window} AS top_scored, "
        f"sum(sumIf(s.score_bin * s.calls, NOT {is_top} AND {placed})) {route_window} AS other_weight, "
        f"sum(sumIf(s.calls, NOT {is_top} AND {placed})) {route_window} AS other_scored "
        f"FROM {source} WHERE s.first = 1 GROUP BY s.tenant, s.route, s.tier, s.band, bin, s.score_bin"
    )
    columns = ", ".join(CELL_COUNTERS)
    sql = (
        f"SELECT tenant, route, tier, band, bin, {columns}, top_weight, top_scored, other_weight, "
        f"other_scored FROM ({inner}) WHERE calls > 0 AND (beside_top OR bin = {NO_SCORE})"
    )
    # tuples, not named rows: an all-tenant month is tens of thousands of rows
    cells: dict[CellKey, Cell] = {}
    higher: dict[tuple[str, str], bool] = {}
    width = len(CELL_COUNTERS)
    for tenant, route, tier, band, score_bin, *values in client.query(
        sql, parameters=params.values
    ).result_rows:
        key = (tenant, route, tier, band, score_bin)
        counters = values[:width]
        old = cells.get(key)  # two rows when scores outside [0, 1] joined the unscored
        cells[key] = Cell(*counters) if old is None else Cell(*map(sum, zip(old, counters, strict=True)))
        if (tenant, route) not in higher:
            higher[(tenant, route)] = higher_goes_up(*values[width:])
    return cells, higher


def _first_bucket(client: Any, filters: Filters, family: Any, step_s: int) -> datetime | None:
    params = Params()
    source = counters_source(filters, params, ("calls",), max_step_s=step_s, family=family)
    sql = f"SELECT min(s.bucket), sum(s.calls) FROM {source} WHERE s.calls > 0"
    bucket, requests = client.query(sql, parameters=params.values).result_rows[0]
    if not requests:
        return None
    return bucket if bucket.tzinfo is not None else bucket.replace(tzinfo=filters.start.tzinfo)


def _first_call(client: Any, filters: Filters) -> datetime | None:
    """The minute of the first call in the window: its day, hour and minute from the rollups, each read
    over the one before (raw calls are not scanned; a minute is exact enough to scale to a month)."""
    day = _first_bucket(client, filters, BY_BAND, DAY_S)
    if day is None:
        return None
    hour = _first_bucket(client, _within(filters, day, timedelta(days=1)), CALLS, HOUR_S) or day
    return _first_bucket(client, _within(filters, hour, timedelta(hours=1)), CALLS, MINUTE_S) or hour


def _within(filters: Filters, start: datetime, length: timedelta) -> Filters:
    return filters.with_range(max(filters.start, start), min(filters.end, start + length))


Models = dict[tuple[str, str], dict[str, tuple[str, str, int]]]  # tenant, route → tier → (provider, model, n)


def _route_totals(
    client: Any, filters: Filters
) -> tuple[dict[tuple[str, str], dict[str, tuple[int, float]]], Models]:
    """Per tenant x route x tier: requests whose first attempt ran on the tier and the tier's spend; and
    the most used (provider, model, first attempts) of each tier on each route, the tier's stand-in."""
    params = Params()
    dims = ("tenant", "route", "tier", "provider", "model", "first")
    source = counters_source(filters, params, ("calls", "cost_usd"), dims, max_step_s=DAY_S, family=BY_BAND)
    sql = (
        "SELECT s.tenant, s.route, s.tier, s.provider, s.model, sumIf(s.calls, s.first = 1), "
        f"sum(s.cost_usd) FROM {source} GROUP BY s.tenant, s.route, s.tier, s.provider, s.model"
    )
    totals: dict[tuple[str, str], dict[str, tuple[int, float]]] = defaultdict(dict)
    used: dict[tuple[str, str, str], dict[tuple[str, str], int]] = defaultdict(dict)
    for tenant, route, tier, provider, model, n, spend in client.query(
        sql, parameters=params.values
    ).result_rows:
        requests, spent = totals[(tenant, route)].get(tier, (0, 0.0))
        totals[(tenant, route)][tier] = (requests + int(n), spent + float(spend))
        if n:
            used[(tenant, route, tier)][(provider, model)] = int(n)
    models: Models = defaultdict(dict)
    for (tenant, route, tier), counts in used.items():
        provider, model = most_used(counts)
        models[(tenant, route)][tier] = (provider, model, counts[(provider, model)])
    return totals, models


def most_used(counts: dict[tuple[str, str], int]) -> tuple[str, str]:
    """The (provider, model) with most first attempts: the one that stands for its tier on a route (on a
    tie, the first by name, so the answer does not depend on row order)."""
    return max(sorted(counts.items()), key=lambda item: item[1])[0]


def _estimate(
    band: int,
    cells: dict[tuple[str, int], dict[int, Cell]],
    models: dict[str, tuple[str, str, int]],
    top: str,
    lower: set[str],
    tier_list: tuple[str, ...],
    quote: Quoter,
    at: datetime,
    tenant: str,
    higher: bool,
    replays: dict[tuple[str, int], Replayed],
) -> BandEstimate:
    direct = cells.get((top, band), {})
    total = _sum(direct.values())
    unpriced = total.requests - total.priced_requests
    best: BandEstimate | None = None
    for tier in tier_list:  # cheapest first: on equal savings the cheaper tier is proposed
        replay = replays.get((tier, band))
        if tier in lower and replay is not None and replay.judged >= MIN_GROUP_TRIALS:
            price = quote(at, tenant, replay.provider, replay.model)
            candidate = _band_estimate(
                band, total, unpriced, tier, replay.model,
                [Group(NO_SCORE, total, wilson(replay.servable, replay.judged))],
                None if price.unpriced else price, evidence="replay",
            )  # fmt: skip
            if best is None or (candidate.savings_low_usd or 0.0) > (best.savings_low_usd or 0.0):
                best = candidate
            continue
        if tier not in lower or tier not in models:
            continue
        tried = cells.get((tier, band), {})
        groups = _evidence_groups(direct, tried, higher)
        if not groups:
            continue
        provider, model, _ = models[tier]
        price = quote(at, tenant, provider, model)
        candidate = _band_estimate(
            band, total, unpriced, tier, model, groups, None if price.unpriced else price
        )
        if best is None or (candidate.savings_low_usd or 0.0) > (best.savings_low_usd or 0.0):
            best = candidate
    if best is not None:
        return best
    return BandEstimate(
        band_label(band), total.requests, total.cost_usd, unpriced, "no evidence", None, None, 0, 0, 0, 0,
        False, None, None, None, None, None, None, None, 0.0,
    )  # fmt: skip


def _sum(cells: Any) -> Cell:
    columns = list(zip(*cells, strict=True))
    return Cell(*(sum(column) for column in columns)) if columns else Cell()


class Group(NamedTuple):
    """Top-direct requests judged together, and the acceptance interval that judges them."""

    first_bin: int  # NO_SCORE for requests without a score
    cell: Cell
    interval: Interval
    extrapolated: bool = False  # no trials of their own: [0, the upper bound of the easier group]


def _evidence_groups(direct: dict[int, Cell], tried: dict[int, Cell], higher: bool) -> list[Group]:
    """(top-direct requests, the acceptance interval that judges them) for each group with evidence.

    Scored requests are judged by the candidate's first attempts in the same score bins: neighbouring
    bins are pooled, easiest first (``higher``: a higher score is harder), until the pool holds
    ``MIN_GROUP_TRIALS`` trials (a last pool short of them joins the one before), so no top-direct
    request is left unjudged for want of a trial in its own bin and none is judged by a handful. Bins
    beyond the hardest trial stay unjudged: easier requests never vouch for harder ones. Requests
    without a score are judged by the candidate's first attempts at every score of the band (nothing
    finer is known).
    """
    if not tried:
        return []
    groups: list[Group] = []
    pooled_direct: list[Cell] = []
    first, trials, accepted = 0, 0, 0  # of the pool being filled
    # bins where the top tier's own requests are, easy end first: evidence elsewhere is not theirs
    scored = sorted((b for b, cell in direct.items() if b != NO_SCORE and cell.requests), reverse=not higher)
    for score_bin in scored:
        if not pooled_direct:
            first = score_bin
        pooled_direct.append(direct[score_bin])
        sample = tried.get(score_bin)
        if sample is not None:
            trials, accepted = trials + sample.requests, accepted + sample.accepted
        if trials >= MIN_GROUP_TRIALS:
            groups.append(Group(first, _sum(pooled_direct), wilson(accepted, trials)))
            pooled_direct, trials, accepted = [], 0, 0
    if pooled_direct and trials and groups:  # too few trials for a pool of their own: join the last one
        last = groups.pop()
        cell = _sum([last.cell, *pooled_direct])
        interval = last.interval
        groups.append(
            Group(last.first_bin, cell, wilson(interval.successes + accepted, interval.trials + trials))
        )
    elif pooled_direct and trials:
        groups.append(Group(first, _sum(pooled_direct), wilson(accepted, trials)))
    elif pooled_direct and groups:
        # Harder than every trial: acceptance does not rise with difficulty, so it is at most the easier
        # group's upper bound and may be 0; the point is the easier group's (the interval says how unsure).
        easier = groups[-1].interval
        bound = Interval(easier.successes, easier.trials, 0.0, easier.high)
        groups.append(Group(first, _sum(pooled_direct), bound, extrapolated=True))
    if NO_SCORE in direct:
        sample = _sum(tried.values())
        if sample.requests and direct[NO_SCORE].requests:
            groups.append(Group(NO_SCORE, direct[NO_SCORE], wilson(sample.accepted, sample.requests)))
    return groups


def _band_estimate(
    band: int,
    total: Cell,
    unpriced: int,
    tier: str,
    model: str,
    groups: list[Group],
    price: Any,
    evidence: str = "cascade",
) -> BandEstimate:
    """Each group of moved requests still pays the candidate, and the top tier again when the candidate is
    not accepted: saving = p x top cost - candidate cost, summed over the groups at p's point and bounds."""
    moved = _sum(g.cell for g in groups)
    cost_on_tier = None if price is None else sum(price.cost(*g.cell.tokens()) for g in groups)

    def weighted(pick: Callable[[Interval], float]) -> float:
        return sum(pick(g.interval) * g.cell.requests for g in groups) / moved.requests

    def saving(pick: Callable[[Interval], float]) -> float | None:
        if cost_on_tier is None:
            return None
        return sum(pick(g.interval) * g.cell.cost_usd for g in groups) - cost_on_tier

    def share(i: Interval) -> float:
        return i.share or 0.0

    by_score = all(g.first_bin != NO_SCORE for g in groups)
    # unscored requests are judged by every trial of the band: then that is the sample; an extrapolated
    # group borrows its interval and adds no trial
    samples = [g.interval for g in groups if (by_score or g.first_bin == NO_SCORE) and not g.extrapolated]
    return BandEstimate(
        band=band_label(band),
        top_direct_requests=total.requests,
        top_direct_cost_usd=total.cost_usd,
        unpriced_top_direct=unpriced,
        evidence=evidence,
        candidate_tier=tier,
        candidate_model=model,
        tried_on_candidate=sum(i.trials for i in samples),
        accepted_on_candidate=sum(i.successes for i in samples),
        moved_requests=moved.requests,
        extrapolated_requests=sum(g.cell.requests for g in groups if g.extrapolated),
        by_score=by_score,
        acceptance=weighted(share),
        acceptance_low=weighted(lambda i: i.low),
        acceptance_high=weighted(lambda i: i.high),
        cost_on_candidate_usd=cost_on_tier,
        savings_usd=saving(share),
        savings_low_usd=saving(lambda i: i.low),
        savings_high_usd=saving(lambda i: i.high),
        over_specified_usd=sum(g.interval.low * g.cell.cost_usd for g in groups),
    )


def _opportunity(
    tenant: str,
    route: str,
    totals: dict[str, tuple[int, float]],
    bands: list[BandEstimate],
    top: str,
    month_factor: float,
) -> Opportunity:
    by_tier = {tier: requests for tier, (requests, _) in totals.items() if requests}
    spend_by_tier = {tier: spend for tier, (_, spend) in totals.items()}
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
