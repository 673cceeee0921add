"""``POST /v1/traces`` answers per the OTLP/HTTP specification: one test per status code."""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.integration.ingest.conftest import Collector
from tests.unit.ingest.builders import body, request, sdk_attributes, span
from tests.unit.ingest.test_decode import to_otlp_json


def calls(collector: Collector) -> int:
    return int(collector.scalar("SELECT count() FROM llm_calls"))


def test_protobuf_export_is_stored_and_answered_200_in_protobuf(collector: Collector) -> None:
    response = collector.post(body([span(), span()]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")
    assert calls(collector) == 2  # 200 means stored already, no waiting


def test_gzip_json_export_is_answered_in_json(collector: Collector) -> None:
    payload = gzip.compress(to_otlp_json(request([span()])))
    response = collector.post(payload, content_type="application/json", **{"Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}
    assert calls(collector) == 1


def test_bad_spans_get_partial_success_while_good_ones_are_stored(collector: Collector) -> None:
    spans = [span(), span(sdk_attributes(**{"gen_ai.usage.output_tokens": -1})), span(span_id=0), span()]
    response = collector.post(body(spans))
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 2
    assert "negative_tokens" in partial.error_message and "invalid_span_id" in partial.error_message
    assert calls(collector) == 2

    json_response = collector.post(to_otlp_json(request(spans[1:2])), content_type="application/json")
    assert json_response.status_code == 200
    assert json_response.json()["partialSuccess"]["rejectedSpans"] in (1, "1")


def test_undecodable_body_is_400_with_a_google_rpc_status(collector: Collector) -> None:
    response = collector.post(b"\xff\xff\xff\xff\x0f")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = status_pb2.Status.FromString(response.content)
    assert status.code == 3 and "protobuf" in status.message

    json_response = collector.post(b"{not json", content_type="application/json")
    assert json_response.status_code == 400
    assert json_response.json()["code"] == 3


def test_body_over_the_limit_after_decompression_is_413(make_collector: Any) -> None:
    collector = make_collector(max_body_bytes=64 * 1024)
    big = body([span(sdk_attributes(**{"tiermix.tag.pad": "x" * 1000})) for _ in range(100)])
    assert len(big) > 64 * 1024
    assert collector.post(big).status_code == 413
    compressed = gzip.compress(big)
    assert len(compressed) < 64 * 1024  # small on the wire, too big once inflated
    assert collector.post(compressed, **{"Content-Encoding": "gzip"}).status_code == 413
    bomb = gzip.compress(b"\0" * (32 * 1024 * 1024))
    response = collector.post(bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert status_pb2.Status.FromString(response.content).code == 8
    assert calls(collector) == 0


def test_other_content_types_are_415(collector: Collector) -> None:
    response = collector.post(body([span()]), content_type="text/plain")
    assert response.status_code == 415
    assert calls(collector) == 0


def test_full_queue_is_429_with_retry_after(make_collector: Any) -> None:
    # One request may wait to become durable; many senders at once must see 429 and lose nothing.
    # (Watching the queue gauge for "1" raced with the batcher, which takes a lone request at once.)
    collector = make_collector(queue_max_requests=1)
    spans_per_request, senders = 2000, 16
    payloads = [body([span() for _ in range(spans_per_request)]) for _ in range(senders)]
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def send(payload: bytes) -> None:
        response = httpx.post(
            f"{collector.url}/v1/traces",
            content=payload,
            headers={"Content-Type": "application/x-protobuf"},
            timeout=60,
        )
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=send, args=(payload,)) for payload in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 429}
    assert 429 in statuses and 200 in statuses
    for response in responses:
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) > 0
            assert status_pb2.Status.FromString(response.content).code == 8  # RESOURCE_EXHAUSTED
    stored = collector.scalar("SELECT count() FROM llm_calls")
    assert stored == spans_per_request * statuses.count(200)


def test_storage_down_with_a_full_spool_is_503_with_retry_after(make_collector: Any) -> None:
    collector = make_collector(spool_max_bytes=1024 * 1024)
    collector.clickhouse.command("DETACH TABLE llm_calls")
    try:
        big = body([span(sdk_attributes(**{"tiermix.tag.pad": "x" * 200})) for _ in range(1000)])
        statuses = [collector.post(big).status_code for _ in range(12)]
        assert statuses[0] == 200  # spooled
        assert statuses[-1] == 503
        response = collector.post(big)
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
        assert status_pb2.Status.FromString(response.content).code == 14
        ready = collector.http.get("/readyz")
        assert ready.status_code == 503 and "storage" in ready.json()["reason"]
    finally:
        collector.clickhouse.command("ATTACH TABLE llm_calls")
    accepted = statuses.count(200) * 1000
    collector.wait_for(lambda: calls(collector) == accepted, timeout_s=60)
    collector.wait_for(lambda: collector.http.get("/readyz").status_code == 200)


def test_ingest_needs_a_key_once_keys_exist_and_a_tenant_key_stamps_its_tenant(collector: Collector) -> None:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    meta = open_meta(collector.settings)
    ingest_key = create_key(meta, scope="ingest", tenant="acme").key
    read_key = create_key(meta, scope="read", tenant=None).key

    assert collector.post(body([span()])).status_code == 401
    forbidden = collector.post(body([span()]), Authorization=f"Bearer {read_key}")
    assert forbidden.status_code == 403
    assert status_pb2.Status.FromString(forbidden.content).code == 7

    claimed = span(sdk_attributes(**{"tiermix.tenant": "globex"}))
    assert collector.post(body([claimed]), Authorization=f"Bearer {ingest_key}").status_code == 200
    assert collector.rows("SELECT tenant FROM llm_calls") == [("acme",)]


def test_ops_endpoints(collector: Collector) -> None:
    assert collector.http.get("/healthz").json() == {"status": "ok"}
    assert collector.http.get("/readyz").status_code == 200
    collector.post(body([span(), span({"http.method": "GET"})]))
    metrics = collector.http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert "tiermix_spans_accepted_total 1\n" in text
    assert 'tiermix_spans_skipped_total{reason="not_llm"} 1\n' in text
    assert 'tiermix_rows_written_total{table="llm_calls"} 1\n' in text
    assert "tiermix_insert_duration_seconds_count" in text
    assert json.loads(collector.http.get("/readyz").text)["status"] == "ready"


def test_metrics_and_readyz_need_a_read_key_once_keys_exist_while_healthz_stays_open(
    collector: Collector,
) -> None:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key, revoke_key

    meta = open_meta(collector.settings)
    read_key = create_key(meta, scope="read", tenant=None)
    admin_key = create_key(meta, scope="admin", tenant=None).key
    ingest_key = create_key(meta, scope="ingest", tenant=None).key

    def get(path: str, key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return collector.http.get(path, headers=headers)

    assert get("/healthz").status_code == 200
    for path in ("/metrics", "/readyz"):
        missing = get(path)
        assert missing.status_code == 401
        assert missing.json()["error"]["code"]
        assert get(path, "tmx_not_a_real_key").status_code == 401
        assert get(path, ingest_key).status_code == 403  # ingest keys write spans, they do not read
        assert get(path, read_key.key).status_code == 200
        assert get(path, admin_key).status_code == 200
    assert "tiermix_queue_requests" in get("/metrics", read_key.key).text
    assert get("/readyz", read_key.key).json()["status"] == "ready"

    revoke_key(meta, read_key.info.prefix)
    assert get("/metrics", read_key.key).status_code == 401  # a revoked key is refused at once


@pytest.mark.parametrize("signal", ["metrics", "logs"])
def test_otlp_metrics_and_logs_are_answered_with_a_partial_success_not_404(
    collector: Collector, signal: str
) -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceRequest,
        ExportLogsServiceResponse,
    )
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
        ExportMetricsServiceResponse,
    )

    if signal == "metrics":
        request: Any = ExportMetricsServiceRequest()
        metric = request.resource_metrics.add().scope_metrics.add().metrics.add()
        metric.name = "gen_ai.client.token.usage"
        metric.sum.data_points.add().as_int = 19
        metric.sum.data_points.add().as_int = 7
        answer: Any = ExportMetricsServiceResponse()
    else:
        request = ExportLogsServiceRequest()
        request.resource_logs.add().scope_logs.add().log_records.add().body.string_value = "hi"
        answer = ExportLogsServiceResponse()
    response = collector.http.post(
        f"/v1/{signal}",
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 200
    answer.ParseFromString(response.content)
    rejected = (
        answer.partial_success.rejected_data_points
        if signal == "metrics"
        else (answer.partial_success.rejected_log_records)
    )
    assert rejected == (2 if signal == "metrics" else 1)
    assert "not stored" in answer.partial_success.error_message
    bad = collector.http.post(
        f"/v1/{signal}", content=b"\xff\xff", headers={"Content-Type": "application/x-protobuf"}
    )
    assert bad.status_code == 400
