"""Tier names are configuration: rename the tiers and every metric follows the tier map's top and bottom.

Before, "frontier" was a literal in the API's defaults: with tiers renamed through ``PUT /admin/tiers``
(and history re-tiered) the frontier share silently read 0.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.api import reference as ref
from tests.integration.api.seeded import Api, day_before_yesterday, seeded_server
from tests.support.calls import Scenario, generate_calls

RENAMED = {"small": "economy", "mid": "standard", "frontier": "premium"}


@pytest.fixture(scope="module")
def renamed(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    start = day_before_yesterday() + timedelta(hours=3)
    end = start + timedelta(hours=5)
    original = generate_calls(start, end, seed=5, scenario=Scenario(requests=300, tenants=("acme", "globex")))
    rows = [dataclasses.replace(row, tier=RENAMED.get(row.tier, row.tier)) for row in original]
    with seeded_server(chdb_dir, tmp_path_factory.mktemp("tiers"), rows, batch_rows=101) as (url, client):
        bands = (1.0, 10.0, None)  # every tier but the top needs a band maximum, rising
        named = zip(RENAMED.values(), bands, strict=True)
        body = {"tiers": [{"name": n, "band_max_usd_per_mtok": b} for n, b in named]}
        request = urllib.request.Request(
            f"{url}/api/v1/admin/tiers", data=json.dumps(body).encode(), method="PUT",
            headers={"content-type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
        # The reference metrics are computed on the rows with the shipped names.
        yield Api(url, original, start, end, client)


def test_frontier_share_counts_the_renamed_top_tier(renamed: Api) -> None:
    start, end = renamed.start, renamed.end + timedelta(hours=1)
    got = renamed.get("/api/v1/summary", start=start, end=end)
    expected = ref.summary(ref.in_range(renamed.rows, start, end))
    assert expected["frontier_share"] > 0.05
    assert got["frontier_share"] == pytest.approx(expected["frontier_share"], rel=1e-9)
    assert got["escalated_requests"] == expected["escalated_requests"] > 0
    assert got["top_tier"] == "premium" and got["bottom_tier"] == "economy"


def test_an_explicit_top_tier_still_wins(renamed: Api) -> None:
    start, end = renamed.start, renamed.end + timedelta(hours=1)
    got = renamed.get("/api/v1/summary", start=start, end=end, top_tier="standard")
    assert got["top_tier"] == "standard"
    assert 0 < got["frontier_share"] < 1
