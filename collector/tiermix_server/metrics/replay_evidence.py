"""Shadow-replay verdicts as right-sizing evidence (replay/, ``replay_samples``).

A replay judges a random sample of the very requests a route sent to a higher tier, so for those
requests it is better evidence than the cascade's lower-tier first attempts (which are other, usually
easier, requests). Per tenant x route x candidate tier, the **latest** run's verdicts count (an older
run judged another candidate or older traffic); samples past their TTL no longer count.

- opportunities: the verdicts of first attempts on the top tier, by input-token band
  (``replay_bands``), judge that band's top-direct requests (``evidence: "replay"``);
- the what-if: the same verdicts with the router's scores give RouteLLM's CPT and APGR
  (``routellm_verdicts``): the strong model's verdict is the production answer (accepted), the weak
  model's the judges'. They rank the router among the requests it sent to the top tier.
"""

# ruff: noqa: S608 - the SQL here is fixed text and fixed fragments; every value is a parameter.

from __future__ import annotations

from typing import Any, NamedTuple

from tiermix_server.metrics.bands import band_sql
from tiermix_server.metrics.filters import Filters

_LATEST = (
    "run_id IN (SELECT max(run_id) FROM replay_samples WHERE expires_at > now() "
    "GROUP BY tenant, route, candidate_tier)"
)


class Replayed(NamedTuple):
    """Judged samples of one band: ``servable`` of ``judged`` on ``provider:model``, from ``run_id``."""

    run_id: int
    provider: str
    model: str
    servable: int
    judged: int


def _scope(filters: Filters, parameters: dict[str, Any]) -> str:
    where = ""
    if filters.tenant is not None:
        where += " AND tenant = {tenant:String}"
        parameters["tenant"] = filters.tenant
    if filters.route is not None:
        where += " AND route = {route:String}"
        parameters["route"] = filters.route
    return where


def replay_bands(client: Any, filters: Filters, top: str) -> dict[tuple[str, str, str, int], Replayed]:
    """(tenant, route, candidate tier, band) → the latest run's verdicts on top-direct requests."""
    parameters: dict[str, Any] = {"top": top}
    scope = _scope(filters, parameters)
    result = client.query(
        f"SELECT tenant, route, candidate_tier, {band_sql('input_tokens')} AS band, max(run_id), "
        "any(candidate_provider), any(candidate_model), countIf(verdict = 1), count() "
        "FROM replay_samples FINAL WHERE expires_at > now() AND verdict >= 0 AND first_attempt "
        f"AND production_tier = {{top:String}} AND {_LATEST}{scope} "
        "GROUP BY tenant, route, candidate_tier, band",
        parameters=parameters,
    )
    return {
        (tenant, route, tier, int(band)): Replayed(int(run), provider, model, int(ok), int(n))
        for tenant, route, tier, band, run, provider, model, ok, n in result.result_rows
    }


def routellm_verdicts(
    client: Any, filters: Filters, top: str, candidate_tier: str, router: str
) -> list[tuple[float, float, float]]:
    """(score, strong verdict, weak verdict) of the latest run's judged top-direct samples of ``router``."""
    parameters: dict[str, Any] = {"top": top, "tier": candidate_tier, "router": router}
    scope = _scope(filters, parameters)
    result = client.query(
        "SELECT routing_score, verdict FROM replay_samples FINAL WHERE expires_at > now() AND verdict >= 0 "
        "AND first_attempt AND production_tier = {top:String} AND candidate_tier = {tier:String} "
        "AND router = {router:String} AND routing_score IS NOT NULL AND isFinite(routing_score) "
        f"AND routing_score BETWEEN 0 AND 1 AND {_LATEST}{scope}",
        parameters=parameters,
    )
    return [(float(score), 1.0, float(verdict)) for score, verdict in result.result_rows]
