"""Which tenants, routes and environments have calls in a range: the values a filter picker offers.

Read from the same counters sources as every other view (rollups for whole hours), so listing a quarter
of traffic costs about what a summary does. Without an environment filter ``shadow`` (a replay's own
calls) is left out of every view; it is still listed here when it has calls, because choosing it by
name is how a reader sees what replays cost.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tiermix_server.metrics.filters import SHADOW_ENVIRONMENT, Filters, Params
from tiermix_server.metrics.sources import counters_source

_LISTED = ("tenant", "route", "environment")


@dataclass(frozen=True, slots=True)
class Dimensions:
    tenants: list[str]
    routes: list[str]
    environments: list[str]


def dimensions(client: Any, filters: Filters) -> Dimensions:
    seen: dict[str, set[str]] = {name: set() for name in _LISTED}
    scopes = [filters]
    if filters.environment is None:
        scopes.append(replace(filters, environment=SHADOW_ENVIRONMENT))
    for scope in scopes:
        params = Params()
        source = counters_source(scope, params, ("calls",), _LISTED)
        sql = (
            f"SELECT s.tenant AS tenant, s.route AS route, s.environment AS environment FROM {source} "
            "GROUP BY tenant, route, environment HAVING sum(s.calls) > 0"
        )
        for row in client.query(sql, parameters=params.values).named_results():
            for name in _LISTED:
                seen[name].add(str(row[name]))
    return Dimensions(*(sorted(value for value in seen[name] if value) for name in _LISTED))
