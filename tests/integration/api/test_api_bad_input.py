"""Bad input answers 400 with the JSON error; hostile strings in any parameter are only ever data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.integration.api.seeded import Api

ENDPOINTS = (
    "/api/v1/summary", "/api/v1/mix", "/api/v1/cost", "/api/v1/escalations", "/api/v1/drift", "/api/v1/calls",
    "/api/v1/health/data", "/api/v1/export/chargeback", "/api/v1/dimensions",
)  # fmt: skip
PARAMETERS = (
    "start", "end", "tenant", "route", "environment", "model", "tier", "top_tier", "group_by", "by",
    "interval", "format", "window", "baseline", "status", "provider", "cursor", "request_id", "limit",
    "baseline_model", "view", "baseline_model.summarize", "js_threshold",
)  # fmt: skip
HOSTILE = (
    "x' OR 1=1 --",
    "acme'; DROP TABLE llm_calls; --",
    "{tenant:String}",
    "\\' UNION SELECT * FROM system.tables --",
    "tier, (SELECT 1)",
    "\x00\u202e",
)


def assert_bad_request(api: Api, path: str, code: str = "bad_request", **query: object) -> str:
    status, body = api.fetch(path, **query)
    assert status == 400, (path, query, status, body)
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"]
    return str(error["message"])


@pytest.mark.parametrize("path", ENDPOINTS)
def test_unparseable_dates_are_400(api: Api, path: str) -> None:
    assert "start" in assert_bad_request(api, path, start="last tuesday")
    assert "end" in assert_bad_request(api, path, end="2026-13-45T99:00:00")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_start_after_end_is_400(api: Api, path: str) -> None:
    assert "after" in assert_bad_request(api, path, start=api.end, end=api.start)


def test_unknown_group_by_mix_key_interval_and_format_are_400(api: Api) -> None:
    assert_bad_request(api, "/api/v1/summary", group_by="tenant,model")
    assert_bad_request(api, "/api/v1/mix", by="colour")
    assert_bad_request(api, "/api/v1/mix", interval="5m")
    assert_bad_request(api, "/api/v1/cost", interval="1m")
    assert_bad_request(api, "/api/v1/escalations", interval="5m")
    assert_bad_request(api, "/api/v1/escalations", view="buckets")
    assert_bad_request(api, "/api/v1/summary", format="xml")
    assert_bad_request(api, "/api/v1/drift", window="forever")
    assert_bad_request(api, "/api/v1/calls", limit="100000")
    assert_bad_request(api, "/api/v1/calls", cursor="not-a-cursor")
    assert_bad_request(api, "/api/v1/calls", request_id="xyz")


def test_a_range_too_large_for_the_interval_is_400(api: Api) -> None:
    end = api.end
    assert "at most 2 days" in assert_bad_request(
        api, "/api/v1/mix", interval="1m", start=end - timedelta(days=3), end=end
    )
    assert_bad_request(api, "/api/v1/mix", interval="1h", start=end - timedelta(days=100), end=end)
    assert_bad_request(api, "/api/v1/cost", interval="1h", start=end - timedelta(days=100), end=end)
    status, _ = api.fetch("/api/v1/mix", interval="1d", start=end - timedelta(days=100), end=end)
    assert status == 200


def test_an_unknown_tenant_is_400(api: Api) -> None:
    message = assert_bad_request(api, "/api/v1/summary", code="unknown_tenant", tenant="acme-typo")
    assert "acme-typo" in message


@pytest.mark.parametrize("path", ENDPOINTS)
def test_hostile_strings_in_every_parameter_are_harmless(api: Api, path: str) -> None:
    for name in PARAMETERS:
        for value in HOSTILE:
            status, body = api.fetch(path, **{name: value})
            assert status in (200, 400), (path, name, value, status, body)
            if status == 200 and name in ("route", "environment", "model", "tier"):
                payload = json.loads(body)
                assert payload.get("calls", 0) == 0 and not [
                    r for r in payload.get("rows", []) if r.get("calls")
                ]
                assert not payload.get("tenants") and not payload.get("over_time")
    assert api.client.query("SELECT count() FROM llm_calls").result_rows[0][0] == len(api.rows)


def test_every_endpoint_answers_csv(api: Api) -> None:
    for path in ENDPOINTS:
        status, body = api.fetch(path, start=api.start, end=api.end, format="csv")
        assert status == 200, path
        assert body.splitlines()[0].count(",") >= 1, path
