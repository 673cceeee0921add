"""Hostile input to ``POST /v1/traces``: the right 4xx, the server stays up, good spans survive.

Fuzzed and truncated protobuf, OTLP/JSON with wrong types, gzip bombs, huge attribute values, unbounded
tag cardinality, wrong and revoked keys — each against the real collector on 127.0.0.1 (OTLP/HTTP
specification: 400 for a body that cannot be decoded, partial success for spans rejected inside a
decodable body; docs/security.md and docs/architecture.md, reliability for the limits). After every kind of
abuse a good request is still
answered 200 and stored: nothing hostile may take the receiver down or poison the spans around it.
"""

from __future__ import annotations

import gzip
import json
import random
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.reliability.helpers import Server, reliability_settings, serve
from tests.unit.ingest.builders import body, next_span_id, request, sdk_attributes, span

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def post(server: Server, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return server.http.post("/v1/traces", content=content, headers=headers or PROTOBUF)


def stored(server: Server, span_ids: list[int]) -> int:
    return int(
        server.scalar("SELECT count() FROM llm_calls WHERE span_id IN {ids:Array(UInt64)}", ids=span_ids)
    )


def assert_still_serving(server: Server) -> None:
    """A good export right after the abuse is answered 200 and stored."""
    span_id = next_span_id()
    response = post(server, body([span(span_id=span_id)]))
    assert response.status_code == 200, response.text
    assert stored(server, [span_id]) == 1


def otlp_json(spans: list[Any]) -> dict[str, Any]:
    """OTLP/JSON of ``spans`` (ids as hex, as the OTLP/HTTP JSON encoding prescribes)."""
    document = json_format.MessageToDict(request(spans))
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for item in scope_spans["spans"]:
                for key in ("traceId", "spanId"):
                    item[key] = __import__("base64").b64decode(item[key]).hex()
    return document


@pytest.fixture(scope="module")
def keyed_server(
    chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str]]]:
    """A collector with API keys: auth is on from the first key (keys made in its metadata DB)."""
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key, revoke_key

    settings = reliability_settings(chdb_dir, tmp_path_factory.mktemp("keyed") / "data")
    meta = open_meta(settings)
    keys = {
        "ingest": create_key(meta, scope="ingest", tenant="acme").key,
        "read": create_key(meta, scope="read", tenant="acme").key,
        "revoked": create_key(meta, scope="ingest", tenant="acme").key,
    }
    revoke_key(meta, keys["revoked"])
    with serve(settings) as server:
        yield server, keys


# -- undecodable bodies ------------------------------------------------------------------------------


def test_fuzzed_protobuf_is_answered_200_or_400_never_5xx_and_the_server_stays_up(
    module_server: Server,
) -> None:
    rng = random.Random(20261124)
    ids = [next_span_id() for _ in range(5)]
    good = body([span(span_id=i) for i in ids])
    statuses: dict[int, int] = {}
    for n in range(250):
        mutated = bytearray(good)
        kind = n % 4
        if kind == 0:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        elif kind == 1:  # insert random bytes
            at = rng.randrange(len(mutated))
            mutated[at:at] = rng.randbytes(rng.randint(1, 32))
        elif kind == 2:  # delete a range
            at = rng.randrange(len(mutated))
            del mutated[at : at + rng.randint(1, 64)]
        else:  # noise
            mutated = bytearray(rng.randbytes(rng.randint(1, 2048)))
        response = post(module_server, bytes(mutated))
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400), (n, response.status_code, response.text[:200])
        if response.status_code == 200:
            ExportTraceServiceResponse.FromString(response.content)  # a well-formed OTLP answer
    assert statuses.get(400, 0) >= 100, statuses
    assert_still_serving(module_server)


def test_truncated_protobuf_is_400_and_never_stores_a_span_that_was_not_sent(module_server: Server) -> None:
    ids = [next_span_id() for _ in range(20)]
    whole = body([span(span_id=i) for i in ids])
    statuses: dict[int, int] = {}
    for cut in range(1, len(whole), max(1, len(whole) // 80)):
        response = post(module_server, whole[:cut])
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400), (cut, response.status_code, response.text[:200])
    assert statuses.get(400, 0) >= len(whole) // max(1, len(whole) // 80) // 2, statuses
    stored_ids = {
        span_id for (span_id,) in module_server.rows(
            "SELECT span_id FROM llm_calls WHERE span_id IN {ids:Array(UInt64)}", ids=ids)
    }  # fmt: skip
    assert stored_ids <= set(ids)
    assert module_server.scalar(
        "SELECT count() FROM llm_calls WHERE span_id IN {ids:Array(UInt64)}", ids=ids
    ) == len(stored_ids)  # a span cut and re-sent whole is still stored once
    assert_still_serving(module_server)


WRONG_JSON: dict[str, bytes] = {
    "array at top level": b"[]",
    "string at top level": b'"resourceSpans"',
    "resourceSpans not a list": b'{"resourceSpans": "many"}',
    "timestamp not a number": (
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}'
    ),
    "intValue not a number": (
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": '
        b'[{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "many"}}]}]}]}]}'
    ),
    "attributes as an object": b'{"resourceSpans": [{"resource": {"attributes": {"service.name": "x"}}}]}',
    "name not a string": b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": {"a": 1}}]}]}]}',
    "not UTF-8": b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "\xff\xfe"}]}]}]}',
    "deeply nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "deeply nested objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "deeply nested attribute values": (
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": '
        + b'{"arrayValue": {"values": [' * 5_000
        + b"{}"
        + b"]}}" * 5_000
        + b"}]}]}]}]}"
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG_JSON))
def test_otlp_json_with_wrong_types_is_400_and_the_server_stays_up(module_server: Server, case: str) -> None:
    response = post(module_server, WRONG_JSON[case], JSON)
    assert response.status_code == 400, (case, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json().get("message"), str)
    assert_still_serving(module_server)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, encoded by hand (the library refuses to build this)."""
    from tiermix_server.ingest.receive import _varint

    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_deeply_nested_protobuf_attribute_is_400_not_a_crash(module_server: Server) -> None:
    value = _field(1, b"leaf")  # AnyValue.string_value
    for _ in range(500):  # AnyValue.array_value -> ArrayValue.values -> AnyValue ..., past any depth limit
        value = _field(5, _field(1, value))
    attribute = _field(1, b"tiermix.tag.nested") + _field(2, value)  # KeyValue
    spans = span().SerializeToString() + _field(9, attribute)  # Span.attributes
    hostile = _field(1, _field(2, _field(2, spans)))  # request.resource_spans.scope_spans.spans
    response = post(module_server, hostile)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert_still_serving(module_server)


# -- partial success ---------------------------------------------------------------------------------


def test_bad_spans_are_rejected_by_partial_success_and_the_good_ones_around_them_are_stored(
    module_server: Server,
) -> None:
    good_ids = [next_span_id() for _ in range(4)]
    now_ns = time.time_ns()
    bad = [
        span(span_id=0),  # no span id
        span(trace_id=b"\x00" * 16),  # no trace id
        span(start_ns=0),  # no timestamp
        span(start_ns=now_ns + 10 * 86_400 * 10**9),  # ten days in the future
        span(start_ns=now_ns - 3_650 * 86_400 * 10**9),  # older than the raw TTL
        span(sdk_attributes(**{"gen_ai.usage.input_tokens": -5})),
        span(sdk_attributes(**{"gen_ai.usage.output_tokens": 10**15})),
    ]
    good = [span(span_id=i) for i in good_ids]
    mixed = [good[0], *bad[:3], good[1], good[2], *bad[3:], good[3]]
    response = post(module_server, body(mixed))
    assert response.status_code == 200, response.text
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == len(bad)
    assert partial.error_message
    assert stored(module_server, good_ids) == len(good_ids)

    json_ids = [next_span_id() for _ in range(2)]
    document = otlp_json([span(span_id=json_ids[0]), span(), span(span_id=json_ids[1])])
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "not-hex!"
    response = post(module_server, json.dumps(document).encode(), JSON)
    assert response.status_code == 200, response.text
    assert int(response.json()["partialSuccess"]["rejectedSpans"]) == 1
    assert stored(module_server, json_ids) == 2


# -- size limits -------------------------------------------------------------------------------------


def gzip_bomb(inflated_bytes: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\x00" * (1 << 20)
    parts = [compressor.compress(chunk) for _ in range(inflated_bytes >> 20)]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_is_413_without_inflating_it(module_server: Server) -> None:
    limit = module_server.settings.max_body_bytes
    bomb = gzip_bomb(512 << 20)  # 512 MiB of zeros in ~0.5 MiB
    assert len(bomb) < limit
    tracemalloc.start()
    try:
        response = post(module_server, bomb, {**PROTOBUF, "Content-Encoding": "gzip"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413, response.text[:300]
    # inflation stops one byte past the limit: the server never holds the 512 MiB
    assert peak < 4 * limit, f"peak traced memory {peak / 2**20:.0f} MiB while refusing a gzip bomb"
    assert_still_serving(module_server)


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"x" * (17 << 20), PROTOBUF, 413),  # identity body over the default 16 MiB limit
        (b"\x1f\x8b\x08\x00garbage", {**PROTOBUF, "Content-Encoding": "gzip"}, 400),
        (gzip.compress(body([span()]))[:-12], {**PROTOBUF, "Content-Encoding": "gzip"}, 400),  # truncated
        (body([span()]), {**PROTOBUF, "Content-Encoding": "br"}, 415),
        (body([span()]), {"Content-Type": "text/plain"}, 415),
    ],
    ids=["identity-over-limit", "not-gzip", "truncated-gzip", "unknown-encoding", "wrong-content-type"],
)
def test_bodies_the_receiver_cannot_take_get_the_right_4xx(
    module_server: Server, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = post(module_server, content, headers)
    assert response.status_code == status, response.text[:300]
    assert_still_serving(module_server)


def test_huge_attribute_values_are_clipped_and_the_spans_stored(module_server: Server) -> None:
    huge_ids = [next_span_id() for _ in range(3)]
    good_ids = [next_span_id() for _ in range(2)]
    spans = [
        span(sdk_attributes(**{"tiermix.route": "r" * 4_000_000}), span_id=huge_ids[0]),
        span(sdk_attributes(**{"tiermix.tag.note": "n" * 4_000_000}), span_id=huge_ids[1]),
        span(
            sdk_attributes(
                **{"gen_ai.response.model": "m" * 1_000_000, "tiermix.escalation_detail": "d" * 1_000_000}
            ),
            span_id=huge_ids[2],
        ),
        *[span(span_id=i) for i in good_ids],
    ]
    response = post(module_server, body(spans))
    assert response.status_code == 200, response.text[:300]
    assert stored(module_server, huge_ids + good_ids) == 5
    longest = module_server.rows(
        "SELECT max(length(route)), max(length(model)), max(length(escalation_detail)), "
        "max(length(tags['note'])) FROM llm_calls WHERE span_id IN {ids:Array(UInt64)}",
        ids=huge_ids,
    )[0]
    assert longest[0] <= 128 and longest[1] <= 128 and longest[2] <= 1024 and longest[3] <= 256, longest
    assert_still_serving(module_server)


def test_unbounded_tag_cardinality_is_bounded_per_span_and_in_the_metrics(module_server: Server) -> None:
    series_before = len(module_server.http.get("/metrics").text.splitlines())
    wide_id = next_span_id()
    wide = span(sdk_attributes(**{f"tiermix.tag.k{i}": f"v{i}" for i in range(5_000)}), span_id=wide_id)
    many_ids = [next_span_id() for _ in range(2_000)]
    many = [
        span(sdk_attributes(**{f"tiermix.tag.unique{i}": str(i), "tiermix.route": f"route-{i}"}), span_id=s)
        for i, s in enumerate(many_ids)
    ]
    for chunk in ([wide], many[:1_000], many[1_000:]):
        response = post(module_server, body(chunk))
        assert response.status_code == 200, response.text[:300]
    assert (
        module_server.scalar(
            "SELECT length(mapKeys(tags)) FROM llm_calls WHERE span_id = {id:UInt64}", id=wide_id
        )
        <= 32
    )
    assert stored(module_server, many_ids) == len(many_ids)
    series_after = len(module_server.http.get("/metrics").text.splitlines())
    # self-observability must not grow a series per tag, route or span
    assert series_after - series_before < 50, (series_before, series_after)
    assert_still_serving(module_server)


# -- keys --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-key"}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"Authorization": "Bearer tmx_0123456789ab_" + "A" * 43}, 401),  # well-formed, unknown
        ({"x-api-key": "tmx_0123456789ab_" + "A" * 43}, 401),
        ({"Authorization": "Bearer ' OR 1=1 --"}, 401),
        ({"Authorization": "revoked"}, 401),  # filled in below
        ({"Authorization": "read"}, 403),  # a read key may not ingest
    ],
    ids=["none", "garbage", "basic", "unknown", "unknown-x-api-key", "sql", "revoked", "read-scope"],
)
def test_wrong_and_revoked_keys_are_refused_and_nothing_is_stored(
    keyed_server: tuple[Server, dict[str, str]], headers: dict[str, str], status: int
) -> None:
    server, keys = keyed_server
    if headers.get("Authorization") in keys:
        headers = {"Authorization": f"Bearer {keys[headers['Authorization']]}"}
    span_id = next_span_id()
    response = post(server, body([span(span_id=span_id)]), {**PROTOBUF, **headers})
    assert response.status_code == status, response.text[:300]
    assert stored(server, [span_id]) == 0
    good_id = next_span_id()
    accepted = post(
        server, body([span(span_id=good_id)]), {**PROTOBUF, "Authorization": f"Bearer {keys['ingest']}"}
    )
    assert accepted.status_code == 200, accepted.text[:300]
    assert stored(server, [good_id]) == 1


def test_a_key_revoked_while_the_server_runs_is_refused_on_the_next_request(
    keyed_server: tuple[Server, dict[str, str]],
) -> None:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key, revoke_key

    server, _keys = keyed_server
    meta = open_meta(server.settings)
    key = create_key(meta, scope="ingest", tenant="acme").key
    auth = {**PROTOBUF, "Authorization": f"Bearer {key}"}
    assert post(server, body([span()]), auth).status_code == 200
    revoke_key(meta, key)
    span_id = next_span_id()
    assert post(server, body([span(span_id=span_id)]), auth).status_code == 401
    assert stored(server, [span_id]) == 0
