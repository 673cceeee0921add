"""No silent loss on the way in: what the collector refuses, and calls without usage, are visible.

A sender refused for good (a wrong or revoked key) sends nothing else, so the collector itself must say
so: ``/metrics`` and data health count refused requests by status. A call that reports no usage is
stored unpriced (``usage_missing``), never as a silent $0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.helpers import Server, reliability_settings, serve, wait_until
from tests.unit.ingest.builders import body, next_span_id, sdk_attributes, span

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def week_ago() -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def keyed(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    settings = reliability_settings(chdb_dir, tmp_path_factory.mktemp("keyed") / "data")
    admin = create_key(open_meta(settings), scope="admin", tenant=None).key
    with serve(settings) as server:
        yield server, admin


def test_requests_refused_for_a_wrong_key_show_in_metrics_and_data_health(keyed: tuple[Server, str]) -> None:
    server, admin = keyed
    auth = {"Authorization": f"Bearer {admin}"}
    wrong = {**PROTOBUF, "Authorization": "Bearer tmx_not_a_key"}
    for _ in range(3):
        assert server.http.post("/v1/traces", content=body([span()]), headers=wrong).status_code == 401
    metrics = server.http.get("/metrics", headers=auth).text
    assert 'tiermix_requests_total{code="401"} 3' in metrics

    def refused() -> dict[str, int]:
        health = server.http.get("/api/v1/health/data", params={"start": week_ago()}, headers=auth)
        return health.json().get("refused_requests", {}) if health.status_code == 200 else {}

    # A good export makes the tenant known; the refused counts ride along, or the drainer writes them.
    assert (
        server.http.post("/v1/traces", content=body([span()]), headers={**PROTOBUF, **auth}).status_code
        == 200
    )
    wait_until(lambda: refused().get("http_401") == 3, 15, "refused requests in data health")


def test_a_call_without_usage_is_stored_unpriced_not_as_zero_dollars(keyed: tuple[Server, str]) -> None:
    server, admin = keyed
    auth = {"Authorization": f"Bearer {admin}"}
    span_id = next_span_id()
    no_usage = sdk_attributes(**{"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None})
    response = server.http.post(
        "/v1/traces", content=body([span(no_usage, span_id=span_id)]), headers={**PROTOBUF, **auth}
    )
    assert response.status_code == 200
    query = "SELECT cost_usd, unpriced, price_source FROM llm_calls WHERE span_id = {s:UInt64}"
    # Answered once spooled: its insert waits the merge window for a span of the call with its usage.
    wait_until(lambda: bool(server.rows(query, s=span_id)), 10, "the call without usage stored")
    assert server.rows(query, s=span_id) == [(0.0, True, "no_usage")]
