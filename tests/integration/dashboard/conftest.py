"""One real query API for the dashboard's page tests, seeded with known synthetic calls.

The API runs in-process (uvicorn in a thread) on its own ClickHouse database of the session's chDB
engine. Two whole UTC days are seeded: "yesterday" (the day the pages are opened on, through the URL's
custom range) and the day before (the previous period, for the changes shown next to each figure).
Expected figures are recomputed from the seeded rows, never read back from the API.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import free_port
from tests.support.calls import CallRow, Scenario, generate_calls, insert_calls, make_request
from tests.support.server import running_server

NEW_MODEL = "gpt-9-preview"  # served on one day only, never in any baseline: a drift "new model" event
APP = Path(__file__).parents[3] / "dashboard" / "tiermix_dashboard" / "app.py"


@dataclass(frozen=True, slots=True)
class SeededApi:
    url: str
    day: datetime  # midnight UTC of the day the pages show
    current: list[CallRow]  # calls on ``day``
    previous: list[CallRow]  # calls on the day before
    cascade: list[CallRow]  # one request: small -> mid -> frontier, answered by the frontier attempt
    settings: Any

    @property
    def day_text(self) -> str:
        return f"{self.day:%Y-%m-%d}"

    def day_params(self) -> dict[str, str]:
        """URL query parameters that scope the dashboard to the seeded day."""
        return {"range": "custom", "start": self.day_text, "end": f"{self.day + timedelta(days=1):%Y-%m-%d}"}


@pytest.fixture(scope="package")
def seeded_api(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApi]:
    from tiermix_server.settings import Settings
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("dashboard-api"),
        clickhouse_url=f"chdb://{chdb_dir}",
        clickhouse_database=f"dashboard_{os.getpid()}",
        port=free_port(),
        dashboard_port=free_port(),
        alerts_enabled=False,
        # Inline ingest: spawned ingest workers re-import ``__main__``, which under AppTest is the app.
        ingest_workers=0,
    )
    client = connect(settings)
    migrate(client, settings)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = today - timedelta(days=1)
    current = generate_calls(day, today, seed=7, scenario=Scenario(requests=600))
    previous = generate_calls(day - timedelta(days=1), day, seed=8, scenario=Scenario(requests=400))
    rng = random.Random(9)
    # A model no route used before (a drift "new model" event), and one known three-attempt cascade.
    first_of_new = make_request(
        rng, day + timedelta(hours=12), [("frontier", "openai", "gpt-5")], tenant="acme"
    )
    current += [replace(row, model=NEW_MODEL, request_model=NEW_MODEL) for row in first_of_new]
    cascade = make_request(
        rng,
        day + timedelta(hours=13),
        [
            ("small", "openai", "gpt-4o-mini"),
            ("mid", "openai", "gpt-4o"),
            ("frontier", "anthropic", "claude-opus-4-1"),
        ],
        tenant="globex",
        route="support.answer",
    )
    current += cascade
    insert_calls(client, current + previous)
    try:
        with running_server(settings) as url:
            yield SeededApi(
                url=url, day=day, current=current, previous=previous, cascade=cascade, settings=settings
            )
    finally:
        client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")


@pytest.fixture
def open_page(seeded_api: SeededApi, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """Run the dashboard on one page, scoped by the URL to the seeded day (plus ``params``)."""

    def run(page: str | None = None, **params: str) -> AppTest:
        monkeypatch.setenv("TIERMIX_API_URL", seeded_api.url)
        monkeypatch.delenv("TIERMIX_API_KEY", raising=False)
        app = AppTest.from_file(str(APP), default_timeout=60)
        app.query_params.update({**seeded_api.day_params(), **params})
        app.run()
        if page is not None:
            app.switch_page(f"views/{page}.py")
            app.run()
        assert not app.exception, [item.value for item in app.exception]
        return app

    return run


def shown(app: AppTest) -> dict[str, Any]:
    """Metric label → the value text the page shows."""
    return {metric.label: metric.value for metric in app.metric}


def table_with(app: AppTest, column: str) -> Any:
    """The first table shown that has ``column`` (as a DataFrame)."""
    for element in app.dataframe:
        if column in element.value.columns:
            return element.value
    raise AssertionError(
        f"no table with a {column!r} column; tables: {[list(t.value.columns) for t in app.dataframe]}"
    )


def requests_of(rows: list[CallRow]) -> int:
    return sum(1 for row in rows if row.attempt == 0)


def dollars(text: str) -> float:
    """``"$1,234.56"`` → 1234.56 (a figure as the page shows it)."""
    return float(text.replace("$", "").replace(",", ""))


def chart_series(app: AppTest, title: str) -> dict[str, dict[str, list[Any]]]:
    """Trace name → {"x": [...], "y": [...]} of the chart titled ``title`` (typed arrays decoded)."""
    for element in app.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if spec["layout"].get("title", {}).get("text") == title:
            return {trace.get("name", ""): {axis: _values(trace.get(axis)) for axis in ("x", "y")}
                    for trace in spec["data"]}  # fmt: skip
    raise AssertionError(f"no chart titled {title!r}")


def _values(data: Any) -> list[Any]:
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"])).tolist()
    return list(data or [])


def api_json(api: SeededApi, path: str, **params: str) -> Any:
    """What the API itself answers for the seeded day (to check the page shows exactly that)."""
    import httpx

    day = api.day_params()
    response = httpx.get(f"{api.url}{path}", params={"start": day["start"], "end": day["end"], **params})
    response.raise_for_status()
    return response.json()
