"""A decode worker's answer crosses the pipe as bytes (ingest/handoff.py) and comes back the same."""

from __future__ import annotations

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.unit.ingest.builders import request, sdk_attributes, span
from tests.unit.ingest.test_process import FixedEnricher, limits
from tiermix_server.ingest.handoff import pack, unpack
from tiermix_server.ingest.identity import CallKeys
from tiermix_server.ingest.process import process


def _every_kind_of_value() -> AnyValue:
    """An ``AnyValue`` holding each kind OTLP has, nested: what a captured content attribute may be."""
    value = AnyValue()
    entries = value.kvlist_value.values
    entries.add(key="text", value=AnyValue(string_value="héllo"))
    entries.add(key="flag", value=AnyValue(bool_value=True))
    entries.add(key="count", value=AnyValue(int_value=-(2**63)))
    entries.add(key="ratio", value=AnyValue(double_value=0.1))
    entries.add(key="raw", value=AnyValue(bytes_value=b"\x00\xff"))
    entries.add(key="unset", value=AnyValue())
    nested = entries.add(key="list").value.array_value.values
    nested.add(string_value="a")
    nested.add().kvlist_value.values.add(key="deep", value=AnyValue(int_value=7))
    return value


def test_a_decoded_request_comes_back_equal_with_its_types() -> None:
    with_content = span(sdk_attributes(**{"tiermix.tag.team": "cx"}))
    with_content.attributes.append(KeyValue(key="gen_ai.input.messages", value=_every_kind_of_value()))
    message = request(
        [
            with_content,
            span(sdk_attributes(**{"gen_ai.usage.input_tokens": "12x"})),  # clipped: counted apart
            span(sdk_attributes(**{"gen_ai.usage.output_tokens": -5})),  # rejected
            span({"http.method": "GET"}),  # skipped
            span({"tiermix.drop.count": 4, "tiermix.drop.reason": "queue_full"}, name="tiermix.drop_report"),
        ]
    )
    processed = process(message, enricher=FixedEnricher(), limits=limits(), tenant=None, keep_content=True)
    assert len(processed.calls) == 2 and processed.drops and processed.contents[0]  # every part has something

    back = unpack(pack(processed))

    assert back == processed
    assert all(type(keys) is CallKeys for keys in back.keys)
    assert all(type(row) is tuple for row in back.calls)
    assert type(back.outcomes) is type(processed.outcomes)  # a Counter: an unseen outcome counts 0
