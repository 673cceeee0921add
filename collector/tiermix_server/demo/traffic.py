"""The traffic model: when requests arrive, from which tenant, on which route — seeded and pure.

Time is cut into minutes; each minute's requests come from a ``random.Random`` seeded by
``(seed, minute)``, so the traffic of a minute is the same whether it is generated during a backfill or
live, in one run or another, and a test can look at any minute without generating the ones before it.
Arrivals are Poisson per tenant with a diurnal curve (peak at 15:00 UTC, trough at night) and quieter
weekends; ``rate_per_s`` is the mean over a week.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from tiermix_server.demo.cascade import DemoRequest, simulate
from tiermix_server.demo.catalog import ROUTES, TENANTS, Tenant
from tiermix_server.demo.scenario import MINUTE_NS, NS_PER_S, Scenario

_PEAK_HOUR_UTC = 15.0
_WEEKEND_FACTOR = 0.55


def _raw_shape(minute: int) -> float:
    hour = (minute % 1440) / 60.0
    distance = min(abs(hour - _PEAK_HOUR_UTC), 24 - abs(hour - _PEAK_HOUR_UTC))
    daily = 0.3 + 0.7 * math.exp(-(distance**2) / (2 * 4.0**2))
    weekday = (minute // 1440 + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Saturday, Sunday
    return daily * (_WEEKEND_FACTOR if weekday >= 5 else 1.0)


_MEAN_SHAPE = sum(_raw_shape(m) for m in range(7 * 1440)) / (7 * 1440)


def diurnal(minute: int) -> float:
    """Traffic relative to the weekly mean at this minute since the epoch (mean 1.0 over a week)."""
    return _raw_shape(minute) / _MEAN_SHAPE


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:  # normal approximation: exact enough here, and O(1)
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


class TrafficModel:
    def __init__(self, seed: int, rate_per_s: float, scenario: Scenario) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.seed = seed
        self.rate_per_s = rate_per_s
        self.scenario = scenario

    def minute(self, minute: int) -> list[DemoRequest]:
        """Every request starting in minute ``minute`` since the epoch, ordered by start time."""
        rng = random.Random(f"tiermix-demo:{self.seed}:{minute}")
        start_ns = minute * MINUTE_NS
        shape = diurnal(minute)
        requests = []
        for tenant in TENANTS:
            factor = self.scenario.volume_factor(tenant.name, start_ns)
            count = poisson(rng, self.rate_per_s * 60 * shape * tenant.weight * factor)
            for _ in range(count):
                requests.append(self._request(rng, tenant, start_ns + int(rng.random() * MINUTE_NS)))
        requests.sort(key=lambda r: r.ts_ns)
        return requests

    def _request(self, rng: random.Random, tenant: Tenant, ts_ns: int) -> DemoRequest:
        route_name = _choose(rng, tenant.routes)
        user = f"{tenant.name}-user-{rng.randrange(tenant.users)}"
        effects = self.scenario.effects(tenant.name, route_name, ts_ns)
        return simulate(rng, ROUTES[route_name], tenant.name, user, ts_ns, effects)

    def between(self, start_ns: int, end_ns: int) -> Iterator[DemoRequest]:
        """Requests with ``start_ns <= ts < end_ns``, in time order."""
        for minute in range(start_ns // MINUTE_NS, -(-end_ns // MINUTE_NS)):
            for request in self.minute(minute):
                if start_ns <= request.ts_ns < end_ns:
                    yield request

    def expected_requests(self, start_ns: int, end_ns: int) -> float:
        """Approximate number of requests in a range (for progress bars), ignoring scripted volume."""
        first, last = start_ns // MINUTE_NS, -(-end_ns // MINUTE_NS)
        per_minute = self.rate_per_s * 60
        if last - first > 20_000:  # long ranges: the weekly mean is exact enough
            return per_minute * (end_ns - start_ns) / MINUTE_NS
        return sum(per_minute * diurnal(m) for m in range(first, last))


def _choose(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random() * sum(weight for _, weight in choices)
    for value, weight in choices:
        roll -= weight
        if roll < 0:
            return value
    return choices[-1][0]


def seconds(ns: int) -> float:
    return ns / NS_PER_S
