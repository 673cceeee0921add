"""/calls paging, /health/data and /export/chargeback against the generated rows."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from tests.integration.api import reference as ref
from tests.integration.api.seeded import Api


def test_calls_pages_through_every_call_in_range_exactly_once_newest_first(api: Api) -> None:
    start, end = api.start + timedelta(minutes=40), api.start + timedelta(hours=1, minutes=5)
    seen: list[dict] = []
    cursor = None
    while True:
        page = api.get("/api/v1/calls", start=start, end=end, limit=37, cursor=cursor)
        seen.extend(page["rows"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = ref.in_range(api.rows, start, end)
    assert sorted(row["span_id"] for row in seen) == sorted(f"{r.span_id:016x}" for r in expected)
    stamps = [row["ts"] for row in seen]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize("limit", [1, 7, 500])
def test_calls_over_the_whole_range_are_the_newest_first_in_exact_order(api: Api, limit: int) -> None:
    # The list looks back an hour, then 8x further, until its page is full (metrics/calls.py): pages
    # that span those windows, and a range whose newest hour is empty, must still be exact.
    end = api.end + timedelta(hours=3)  # the newest 3 hours of the range hold no call
    seen: list[dict] = []
    cursor = None
    for _ in range(60):  # 60 pages: with a page of 1, the newest 60 calls
        page = api.get("/api/v1/calls", start=api.start, end=end, limit=limit, cursor=cursor)
        assert len(page["rows"]) <= limit
        seen.extend(page["rows"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = sorted(ref.in_range(api.rows, api.start, end), key=lambda r: (r.ts, r.span_id), reverse=True)
    assert [row["span_id"] for row in seen] == [f"{r.span_id:016x}" for r in expected[: len(seen)]]
    assert len(seen) == (len(expected) if cursor is None else 60 * limit)


def test_calls_filtered_by_tenant_and_status(api: Api) -> None:
    got = api.get(
        "/api/v1/calls", start=api.start, end=api.end, tenant="umbrella", status="error", limit=1000
    )
    expected = [r for r in api.rows if r.tenant == "umbrella" and r.status == "error"]
    assert len(got["rows"]) == len(expected) > 0
    assert {row["tenant"] for row in got["rows"]} == {"umbrella"}


def test_call_rows_render_ids_as_hex_and_times_as_utc(api: Api) -> None:
    row = api.rows[0]
    got = api.get("/api/v1/calls", start=api.start, end=api.end, request_id=f"{row.request_id:x}")
    attempts = sorted(got["rows"], key=lambda r: r["attempt"])
    first = attempts[0]
    assert first["request_id"] == f"{row.request_id:016x}"
    assert first["trace_id"] == row.trace_id.hex()
    stamp = datetime.fromisoformat(first["ts"].replace("Z", "+00:00"))
    assert stamp == row.ts.astimezone(timezone.utc)


def test_unknown_request_is_404(api: Api) -> None:
    status, body = api.fetch("/api/v1/requests/00000000000000ff")
    assert status == 404 and '"not_found"' in body


def test_data_health_counts_unpriced_calls_sdk_drops_and_rejected_spans(api: Api) -> None:
    api.client.insert(
        "sdk_drops",
        [
            (api.start + timedelta(minutes=5), 1, api.start, "acme", "app", "prod", "queue_full", 7),
            (
                api.start + timedelta(minutes=5),
                1,
                api.start,
                "acme",
                "app",
                "prod",
                "queue_full",
                7,
            ),  # replay
            (api.start + timedelta(minutes=9), 2, api.start, "acme", "app", "prod", "export_failed", 3),
        ],
        column_names=["ts", "span_id", "since", "tenant", "service", "environment", "reason", "dropped"],
    )
    minute = api.start.replace(second=0, microsecond=0) + timedelta(minutes=2)
    api.client.insert(
        "ingest_stats",
        [(minute, "acme", "rejected", "too_large", 4), (minute, "acme", "accepted", "", 100)],
        column_names=["bucket", "tenant", "outcome", "reason", "spans"],
    )
    got = api.get("/api/v1/health/data", start=api.start, end=api.end)
    rows = ref.in_range(api.rows, api.start, api.end)
    assert got["calls"] == len(rows)
    assert got["unpriced_calls"] == sum(r.unpriced for r in rows) > 0
    assert got["unpriced_models"] == [
        {"provider": "selfhost", "model": "house-7b", "calls": got["unpriced_calls"]}
    ]
    assert got["sdk_dropped"] == 10
    assert {d["reason"]: d["dropped"] for d in got["sdk_drops"]} == {"queue_full": 7, "export_failed": 3}
    assert got["rejected_spans"] == 4
    other = api.get("/api/v1/health/data", start=api.start, end=api.end, tenant="globex")
    assert other["sdk_dropped"] == 0 and other["rejected_spans"] == 0


def test_chargeback_is_per_tenant_and_month_with_focus_columns(api: Api) -> None:
    status, body = api.fetch("/api/v1/export/chargeback", start=api.start, end=api.end, format="csv")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body)))
    for column in ("BillingPeriodStart", "BillingPeriodEnd", "BilledCost", "EffectiveCost", "BillingCurrency",
                   "ProviderName", "ConsumedQuantity", "ConsumedUnit", "x_Tenant"):  # fmt: skip
        assert column in rows[0]
    months = {r.ts.strftime("%Y-%m-01T00:00:00Z") for r in api.rows}
    assert {row["BillingPeriodStart"] for row in rows} == months
    for tenant in {r.tenant for r in api.rows}:
        for month in months:
            billed = sum(
                float(row["BilledCost"])
                for row in rows
                if row["x_Tenant"] == tenant and row["BillingPeriodStart"] == month
            )
            expected = sum(
                r.cost_usd
                for r in api.rows
                if r.tenant == tenant and r.ts.strftime("%Y-%m-01T00:00:00Z") == month
            )
            assert billed == pytest.approx(expected)
