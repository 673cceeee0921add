"""One real collector per test module, seeded with known synthetic calls (see seeded.py), over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.api.seeded import Api, day_before_yesterday, seeded_server
from tests.support.calls import Scenario, generate_calls

TENANTS = ("acme", "globex", "initech", "umbrella")


@pytest.fixture(scope="module")
def api(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    day = day_before_yesterday()
    start = day + timedelta(hours=21, minutes=37, seconds=13, microseconds=500_000)
    end = day + timedelta(days=1, hours=2, minutes=11, seconds=47)
    rows = generate_calls(start, end, seed=11, scenario=Scenario(requests=700, tenants=TENANTS))
    with seeded_server(chdb_dir, tmp_path_factory.mktemp("api"), rows, batch_rows=97) as (url, client):
        yield Api(url, rows, start, end, client)
