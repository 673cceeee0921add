"""What real peer instrumentations send lands as exactly one row per provider call, with the truth.

The corpus (``tests/peers/corpus/*.json``) holds the export requests each peer really sent while driving
the real ``openai`` / ``anthropic`` clients against the fake providers (``scripts/capture_peers.sh``
regenerates it from PyPI), and ``calls``: what the fake really served. Each corpus is replayed into a
real collector (timestamps moved to now, nothing else touched) and every stored row is compared with
its call: provider, model, tokens, finish reason, and a cost from the price book for the true usage.

``GAPS`` lists what a peer itself does not send (docs/peers.md has the same table for users); anything
else that differs is a tiermix bug. ``SETTINGS`` is the collector configuration docs/peers.md recommends
where two instrumentations report one call in separate traces with no shared id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

CORPUS = Path(__file__).parents[2] / "peers" / "corpus"
FIELDS = ("provider", "model", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")

# (peer, api, stream) -> fields the peer itself does not report (stored as 0 / empty).
GAPS: dict[tuple[str, str, bool], frozenset[str]] = {
    ("otel-openai-v2", "openai", False): frozenset({"cache_read_tokens"}),
    ("otel-openai-v2", "openai", True): frozenset({"cache_read_tokens", "finish_reason"}),
    ("openlit", "anthropic", True): frozenset({"cache_read_tokens", "cache_write_tokens", "input_tokens"}),
    ("litellm", "openai", False): frozenset({"cache_read_tokens"}),
    ("litellm", "openai", True): frozenset({"cache_read_tokens"}),
    ("anthropic-native", "anthropic", False): frozenset({"finish_reason"}),
    ("anthropic-native", "anthropic", True): frozenset({"finish_reason"}),
    ("traceloop", "anthropic", False): frozenset({"finish_reason"}),
    ("traceloop", "anthropic", True): frozenset({"finish_reason"}),
    # OpenInference's OpenAI spans name only the served model (llm.model_name).
    ("openinference", "openai", False): frozenset({"request_model"}),
    ("openinference", "openai", True): frozenset({"request_model"}),
    ("openinference-langchain", "openai", False): frozenset({"request_model"}),
}
# (peer, api, stream) that report a time to first token; every other row must store none (not invent one).
# OpenLLMetry and Traceloop get it from the anthropic SDK's own span, merged into theirs.
SENDS_TTFT = {
    ("anthropic-native", "anthropic", True),
    ("openlit", "openai", False), ("openlit", "openai", True),
    ("openlit", "anthropic", False), ("openlit", "anthropic", True),
    ("openllmetry", "anthropic", True),
    ("traceloop", "anthropic", True),
}  # fmt: skip
# OpenLLMetry reports finish reasons in the OTel vocabulary ("stop" for Anthropic's "end_turn").
SAME_FINISH = {"end_turn": {"end_turn", "stop"}, "stop": {"stop"}}
SETTINGS: dict[str, dict[str, Any]] = {
    # Two instrumentations of one call in separate traces, no shared id: keep one of them.
    "openinference": {"ignore_scopes": "com.anthropic.sdk.python"},
    "openinference-langchain": {"ignore_scopes": "openinference.instrumentation.langchain"},
}
# Without the recommended setting, these calls are stored twice (docs/peers.md says so).
UNRESOLVABLE = {"openinference": 1, "openinference-langchain": 1}


def corpora() -> list[Path]:
    return sorted(CORPUS.glob("*.json"))


def requests_moved_to_now(corpus: dict[str, Any]) -> list[bytes]:
    """The captured requests as protobuf, every timestamp shifted by one offset so the last is now."""
    import time

    documents = [json.loads(json.dumps(request)) for request in corpus["requests"]]
    spans = [
        span
        for document in documents
        for resource in document.get("resourceSpans", [])
        for scope in resource.get("scopeSpans", [])
        for span in scope.get("spans", [])
    ]
    latest = max(int(span["endTimeUnixNano"]) for span in spans)
    offset = time.time_ns() - 60_000_000_000 - latest
    for span in spans:
        for key in ("startTimeUnixNano", "endTimeUnixNano"):
            span[key] = str(int(span[key]) + offset)
    out = []
    for document in documents:
        message = ExportTraceServiceRequest()
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
        out.append(message.SerializeToString())
    return out


def price_book_cost(collector: Any, call: dict[str, Any]) -> float:
    import time

    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing.enricher import build_enricher

    enricher = build_enricher(collector.settings, open_meta(collector.settings), background=False)
    result = enricher.price(
        time.time_ns() // 1000,
        "default",
        call["provider"],
        call["model"],
        "",
        None,
        call["input_tokens"],
        call["output_tokens"],
        call.get("cache_read_tokens", 0),
        call.get("cache_write_tokens", 0),
        0,
    )
    return float(result.cost_usd)


def replay(collector: Any, corpus: dict[str, Any]) -> list[dict[str, Any]]:
    for body in requests_moved_to_now(corpus):
        response = collector.post(body)
        assert response.status_code == 200, response.text
    expected = len(corpus["calls"])
    collector.wait_for(lambda: collector.scalar("SELECT count() FROM llm_calls") >= expected)
    names = (*FIELDS, "request_model", "finish_reason", "cost_usd", "unpriced", "ttft_ms", "duration_ms")
    columns = ", ".join(names)
    rows = collector.rows(f"SELECT {columns} FROM llm_calls ORDER BY provider, ts")
    return [dict(zip(names, row, strict=True)) for row in rows]


@pytest.mark.parametrize("path", corpora(), ids=lambda path: path.stem)
def test_every_peer_call_lands_once_with_its_true_usage_and_price(path: Path, make_collector: Any) -> None:
    corpus = json.loads(path.read_text())
    peer = corpus["peer"]
    collector = make_collector(**SETTINGS.get(peer, {}))
    stored = replay(collector, corpus)
    truth = sorted(corpus["calls"], key=lambda call: call["provider"])  # calls were made in order
    assert len(stored) == len(truth), (peer, stored)
    for call, row in zip(truth, stored, strict=True):
        gaps = GAPS.get((peer, call["api"], call["stream"]), frozenset())
        for field in FIELDS:
            if field in gaps or field not in call:
                continue
            assert row[field] == call[field], (peer, call["api"], call["stream"], field, row)
        if "finish_reason" not in gaps:
            assert row["finish_reason"] in SAME_FINISH[call["finish_reason"]], (peer, call, row)
        if "request_model" not in gaps:
            assert row["request_model"] == call["model"], (peer, call, row)
        if (peer, call["api"], call["stream"]) in SENDS_TTFT:
            assert row["ttft_ms"] is not None and 0 < row["ttft_ms"] < row["duration_ms"], (peer, row)
        else:
            assert row["ttft_ms"] is None, (peer, row)
        assert row["duration_ms"] > 0, (peer, row)
        if not gaps & {"input_tokens", "cache_read_tokens", "cache_write_tokens"}:
            assert not row["unpriced"], (peer, row)
            assert row["cost_usd"] == pytest.approx(price_book_cost(collector, call), rel=0.01), (peer, row)


@pytest.mark.parametrize("peer", sorted(UNRESOLVABLE))
def test_separate_trace_doubles_are_what_the_docs_say_without_the_setting(
    peer: str, make_collector: Any
) -> None:
    corpus = json.loads((CORPUS / f"{peer}.json").read_text())
    collector = make_collector()
    stored = replay(collector, corpus)
    assert len(stored) == len(corpus["calls"]) + UNRESOLVABLE[peer]


def test_the_corpus_covers_every_peer_the_docs_list() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "peers.md").read_text()
    for path in corpora():
        assert f"`{path.stem}`" in docs, f"docs/peers.md has no row for {path.stem}"


def one_span_per_request(corpus: dict[str, Any], reverse: bool) -> dict[str, Any]:
    """The same spans, each in an export request of its own (an exporter's batch closed between them)."""
    singles = []
    for request in corpus["requests"]:
        for resource in request.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    singles.append(
                        {"resourceSpans": [{**resource, "scopeSpans": [{**scope, "spans": [span]}]}]}
                    )
    return {**corpus, "requests": singles[::-1] if reverse else singles}


@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "reversed"])
@pytest.mark.parametrize("peer", ["openllmetry", "traceloop", "logfire", "openinference"])
def test_spans_of_one_call_in_separate_requests_in_either_order_land_as_one_complete_row(
    peer: str, reverse: bool, make_collector: Any
) -> None:
    """Requests go one after another, each answered before the next (an OTel batch exporter's way)."""
    corpus = one_span_per_request(json.loads((CORPUS / f"{peer}.json").read_text()), reverse)
    collector = make_collector(**SETTINGS.get(peer, {}))
    stored = replay(collector, corpus)
    truth = sorted(corpus["calls"], key=lambda call: call["provider"])
    assert len(stored) == len(truth), (peer, stored)
    for call, row in zip(truth, stored, strict=True):
        gaps = GAPS.get((peer, call["api"], call["stream"]), frozenset())
        for field in FIELDS:
            if field not in gaps and field in call:
                assert row[field] == call[field], (peer, reverse, call["api"], call["stream"], field, row)
        assert not row["unpriced"], (peer, row)


# The scopes in the OpenLLMetry corpus that are OpenLLMetry's own (the anthropic SDK's span is not).
OPENLLMETRY_SCOPES = {"opentelemetry.instrumentation.openai.v1", "opentelemetry.instrumentation.anthropic"}


def inside_tiermix_spans(corpus: dict[str, Any]) -> dict[str, Any]:
    """The corpus as an application also using the tiermix SDK sends it: each OpenLLMetry span is the
    child of a tiermix span naming the tenant and route, with no usage (the call wrapped in
    ``tiermix.call``); the peer's spans name no tenant. The anthropic SDK's own spans stay roots."""
    import base64
    import os

    def text(key: str, value: str) -> dict[str, Any]:
        return {"key": key, "value": {"stringValue": value}}

    document = json.loads(json.dumps(corpus["requests"][0]))
    wrappers = []
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            if scope["scope"]["name"] not in OPENLLMETRY_SCOPES:
                continue
            for span in scope["spans"]:
                attributes = {item["key"]: item["value"] for item in span["attributes"]}
                wrapper_id = base64.b64encode(os.urandom(8)).decode()
                wrappers.append(
                    {
                        "traceId": span["traceId"],
                        "spanId": wrapper_id,
                        "name": "support.answer",
                        "kind": "SPAN_KIND_INTERNAL",
                        "startTimeUnixNano": str(int(span["startTimeUnixNano"]) - 1_000_000),
                        "endTimeUnixNano": str(int(span["endTimeUnixNano"]) + 1_000_000),
                        "attributes": [
                            text("gen_ai.operation.name", "chat"),
                            {"key": "gen_ai.provider.name", "value": attributes["gen_ai.provider.name"]},
                            {"key": "gen_ai.request.model", "value": attributes["gen_ai.request.model"]},
                            text("tiermix.tenant", "acme"),
                            text("tiermix.route", "support.answer"),
                        ],
                        "status": {},
                    }
                )
                span["parentSpanId"] = wrapper_id
    document["resourceSpans"].append(
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
            "scopeSpans": [{"scope": {"name": "tiermix"}, "spans": wrappers}],
        }
    )
    return {**corpus, "requests": [document]}


@pytest.mark.parametrize("split", ["one-request", "in-order", "reversed"])
def test_a_peers_spans_without_a_tenant_count_once_for_the_tenant_the_tiermix_span_names(
    split: str, make_collector: Any
) -> None:
    """No API keys (or an all-tenants key): every call is acme's, stored once, with the peer's usage;
    none is stored again for the default tenant, in one request or one span per request."""
    corpus = inside_tiermix_spans(json.loads((CORPUS / "openllmetry.json").read_text()))
    if split != "one-request":
        corpus = one_span_per_request(corpus, reverse=split == "reversed")
    collector = make_collector()
    stored = replay(collector, corpus)
    truth = sorted(corpus["calls"], key=lambda call: call["provider"])
    assert len(stored) == len(truth), stored
    for call, row in zip(truth, stored, strict=True):
        for field in ("provider", "model", "input_tokens", "output_tokens"):
            assert row[field] == call[field], (split, field, row)
        assert not row["unpriced"], row
    tenants = collector.rows("SELECT DISTINCT tenant, route FROM llm_calls")
    assert tenants == [("acme", "support.answer")]
    spans = sum(
        len(s["spans"]) for r in corpus["requests"] for rs in r["resourceSpans"] for s in rs["scopeSpans"]
    )
    collector.wait_for(lambda: collector.scalar("SELECT sum(spans) FROM ingest_stats") >= spans)
    query = "SELECT tenant, outcome, reason, sum(spans) FROM ingest_stats GROUP BY tenant, outcome, reason"
    counts = {(tenant, outcome, reason): n for tenant, outcome, reason, n in collector.rows(query)}
    # Data health counts each span once, for the tenant known when it was merged; no call is counted
    # as stored without usage (the tiermix span has none of its own until a peer's span fills it in).
    # In order, the anthropic SDK's span met OpenLLMetry's before the tiermix span named the tenant.
    early = 2 if split == "in-order" else 0
    expected = {
        ("acme", "accepted", ""): len(truth),
        ("acme", "skipped", "same_call"): spans - len(truth) - early,
    }
    if early:
        expected[("default", "skipped", "same_call")] = early
    assert counts == expected, counts
