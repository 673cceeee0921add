"""No input may stop ingest, and nothing acknowledged may vanish or count twice.

Each test is one finding from trying to break a running collector: a value the column type cannot
hold, a numeric string ``int()`` rejects, a finite but absurd number, a span id reused by another
tenant, a span re-sent after a long outage, a broken spool. Every one runs against the real collector
on 127.0.0.1 with chDB behind it, and checks the good data around the bad input as well.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.helpers import Server, reliability_settings, serve, wait_until
from tests.support.server import running_server
from tests.unit.ingest.builders import body, next_span_id, sdk_attributes, span

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def post(server: Server, spans: list[object]) -> httpx.Response:
    return server.http.post("/v1/traces", content=body(spans), headers=PROTOBUF)


def stored(server: Server, span_ids: list[int]) -> int:
    return int(
        server.scalar("SELECT count() FROM llm_calls WHERE span_id IN {ids:Array(UInt64)}", ids=span_ids)
    )


def rollup_calls(server: Server, tenant: str) -> int:
    """The tenant's calls in every rollup counting calls; they must agree, so one number or a failure."""
    counts = {
        table: int(server.scalar(f"SELECT sum(calls) FROM {table} WHERE tenant = {{t:String}}", t=tenant))
        for table in ("llm_calls_1h", "llm_calls_1d", "llm_calls_by_band_1d")
    }
    assert len(set(counts.values())) == 1, counts
    return counts["llm_calls_1h"]


def week_ago() -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")


def ready(server: Server) -> bool:
    return server.http.get("/readyz").status_code == 200


@pytest.fixture
def server(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One collector per test: a poisoned one must not make the next finding fail for the wrong reason."""
    settings = reliability_settings(chdb_dir, tmp_path_factory.mktemp("poison") / "data")
    with serve(settings) as running:
        yield running


@pytest.mark.parametrize(
    "poison",
    [
        {"tiermix.request_id": "-1"},
        {"tiermix.request_id": "+ff"},
        {"tiermix.ttft_ms": 1e300},
        {"tiermix.routing_score": 1e300},
        {"tiermix.cost_usd": 1e308},
        {"gen_ai.usage.input_tokens": "²"},
        {"gen_ai.usage.output_tokens": "9" * 5000},
        {"tiermix.attempt": "٣"},
    ],
    ids=lambda poison: next(iter(poison)) + "=" + str(next(iter(poison.values())))[:12],
)
def test_one_poison_value_never_halts_writes_nor_costs_the_good_spans(
    server: Server, poison: dict[str, object]
) -> None:
    good, bad = next_span_id(), next_span_id()
    response = post(server, [span(span_id=good), span(span_id=bad, attributes=sdk_attributes(**poison))])
    assert response.status_code == 200, response.text
    assert stored(server, [good]) == 1
    # The next request, from anyone, is stored at once: nothing is stuck behind the poison.
    later = next_span_id()
    assert post(server, [span(span_id=later)]).status_code == 200
    assert stored(server, [later]) == 1
    assert ready(server)


def test_absurd_finite_costs_leave_totals_finite(server: Server) -> None:
    tenant = f"t{next_span_id()}"
    spans = [
        span(attributes=sdk_attributes(**{"tiermix.tenant": tenant, "tiermix.cost_usd": 1e308}))
        for _ in range(3)
    ]
    spans.append(span(attributes=sdk_attributes(**{"tiermix.tenant": tenant, "tiermix.cost_usd": 0.5})))
    assert post(server, spans).status_code == 200
    summary = server.http.get("/api/v1/summary", params={"tenant": tenant, "start": week_ago()})
    assert summary.status_code == 200, summary.text
    cost = summary.json()["cost_usd"]
    assert cost is not None and 0.5 <= cost < 1e6


def test_drop_counts_near_2_to_63_do_not_wrap_the_totals(server: Server) -> None:
    tenant = f"t{next_span_id()}"
    reports = [
        span(
            name="tiermix.drop_report",
            attributes={
                "tiermix.drop.count": 2**63 - 1,
                "tiermix.drop.reason": "queue_full",
                "tiermix.tenant": tenant,
            },
        )
        for _ in range(3)
    ]
    reports.append(
        span(
            name="tiermix.drop_report",
            attributes={
                "tiermix.drop.count": 5,
                "tiermix.drop.reason": "queue_full",
                "tiermix.tenant": tenant,
            },
        )
    )
    reports.append(span(attributes=sdk_attributes(**{"tiermix.tenant": tenant})))
    assert post(server, reports).status_code == 200
    answer = server.http.get("/api/v1/health/data", params={"tenant": tenant, "start": week_ago()})
    assert answer.status_code == 200, answer.text
    health = answer.json()
    # An impossible count is refused as a bad report (and counted), the plausible one is summed exactly.
    assert health["sdk_dropped"] == 5
    assert {"outcome": "skipped", "reason": "bad_drop_report", "spans": 3} in health["ingest"]


def test_a_span_id_reused_by_another_tenant_does_not_hide_its_call(server: Server) -> None:
    shared = next_span_id()
    a, b = f"a{shared}", f"b{shared}"
    assert (
        post(server, [span(span_id=shared, attributes=sdk_attributes(**{"tiermix.tenant": a}))]).status_code
        == 200
    )
    assert (
        post(server, [span(span_id=shared, attributes=sdk_attributes(**{"tiermix.tenant": b}))]).status_code
        == 200
    )
    assert rollup_calls(server, a) == 1
    assert rollup_calls(server, b) == 1


def test_a_span_resent_after_a_long_outage_is_counted_once(
    chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The client's retry comes long after the first copy was stored (a collector down for an hour)."""
    settings = reliability_settings(chdb_dir, tmp_path_factory.mktemp("resend") / "data")
    tenant = f"t{next_span_id()}"
    resent = span(attributes=sdk_attributes(**{"tiermix.tenant": tenant}))
    with running_server(settings) as url:  # not ``serve``: the database must outlive this server
        first = Server(url, settings)
        assert post(first, [resent]).status_code == 200
        first.http.close()
    _stored_an_hour_ago(first, tenant)
    with serve(settings) as second:
        assert post(second, [resent]).status_code == 200
        assert rollup_calls(second, tenant) == 1
        assert (
            int(second.scalar("SELECT count() FROM llm_calls FINAL WHERE tenant = {t:String}", t=tenant)) == 1
        )


def _stored_an_hour_ago(server: Server, tenant: str) -> None:
    """Make the stored copy look an hour old to anything that reads ``ingested_at``, rollups untouched."""
    ch = server.clickhouse
    from tiermix_server.metrics.sources import ROLLUP_VIEWS

    for view in ROLLUP_VIEWS:
        ch.command(f"DETACH TABLE {view}")
    try:
        ch.command(
            "INSERT INTO llm_calls SELECT * REPLACE (now() - 3600 AS ingested_at) FROM llm_calls "
            "WHERE tenant = {t:String}",
            parameters={"t": tenant},
            settings={"async_insert": 0},
        )
        ch.command(
            "DELETE FROM llm_calls WHERE tenant = {t:String} AND ingested_at > now() - 600",
            parameters={"t": tenant},
        )
    finally:
        for view in ROLLUP_VIEWS:
            ch.command(f"ATTACH TABLE {view}")
    assert int(server.scalar("SELECT count() FROM llm_calls WHERE tenant = {t:String}", t=tenant)) == 1


def test_stray_files_in_the_spool_do_not_stop_start_up(
    chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("stray") / "data"
    settings = reliability_settings(chdb_dir, data_dir)
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    (settings.spool_dir / "notes.batch").write_text("left here by an operator")
    (settings.spool_dir / "README").write_text("not a record")
    with serve(settings) as running:
        good = next_span_id()
        assert post(running, [span(span_id=good)]).status_code == 200
        assert stored(running, [good]) == 1


def test_a_corrupt_spool_record_is_counted_in_metrics_and_data_health(
    chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("corrupt") / "data"
    settings = reliability_settings(chdb_dir, data_dir)
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    (settings.spool_dir / f"{1:016d}-deadbeef.batch").write_bytes(b"TMX1\x00\x00\x00\x00garbage")
    with serve(settings) as running:
        wait_until(
            lambda: "tiermix_spool_corrupt_records_total 1" in running.http.get("/metrics").text,
            10,
            "corrupt record counted in /metrics",
        )
        health = running.http.get("/api/v1/health/data", params={"start": week_ago()}).json()
        assert health["spool_corrupt_records"] == 1
