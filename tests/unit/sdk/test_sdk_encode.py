"""Records become OTLP spans that decode to exactly the values recorded (wire.md names and types)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from tests.fakes.otlp_sink import any_value
from tiermix._config import resolve
from tiermix._context import Routing, Scope
from tiermix._record import CallOptions, CascadeMarks, Record
from tiermix.export import encode
from tiermix.extract import Extracted

text = st.text(min_size=1, max_size=12)
tokens = st.none() | st.integers(min_value=0, max_value=2**40)
SETTINGS = resolve({}, service="svc", environment="prod")


@settings(max_examples=200, deadline=None)
@given(
    model=st.none() | text,
    served=st.none() | text,
    provider=st.none() | text,
    tenant=st.none() | text,
    route=st.none() | text,
    usage=st.tuples(tokens, tokens, tokens, tokens, tokens),
    finish=st.none() | text,
    error=st.none() | text,
    attempt=st.none() | st.integers(0, 9),
    final=st.none() | st.booleans(),
    score=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    tags=st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=5), max_size=3),
    parent=st.none() | st.tuples(st.integers(1, 2**128 - 1), st.integers(1, 2**64 - 1)),
)
def test_every_recorded_value_decodes_to_the_same_value_and_type(
    model: str | None,
    served: str | None,
    provider: str | None,
    tenant: str | None,
    route: str | None,
    usage: tuple[int | None, ...],
    finish: str | None,
    error: str | None,
    attempt: int | None,
    final: bool | None,
    score: float | None,
    tags: dict[str, str],
    parent: tuple[int, int] | None,
) -> None:
    scope = Scope(tenant=tenant, tags=tuple(tags.items()))
    extracted = Extracted(provider, "chat", served, *usage, finish)
    record = Record(1_000, 2_000, CallOptions(route=route, model=model), scope, extracted, error, parent)
    if attempt is not None or final is not None:
        record.cascade = CascadeMarks("r-1", None)
        record.cascade.attempt, record.cascade.final = attempt, final
    record.routing = Routing("r1", None, score) if score is not None else None
    written = encode.encode([record], SETTINGS, encode.resource_for(SETTINGS))
    wire = ExportTraceServiceRequest.FromString(written)
    assert wire.SerializeToString() == written, "the protobuf classes' own bytes, field for field"
    [span] = wire.resource_spans[0].scope_spans[0].spans
    attrs = {kv.key: any_value(kv.value) for kv in span.attributes}

    expected: dict[str, object] = {"gen_ai.operation.name": "chat"}
    for key, value in (
        ("gen_ai.provider.name", provider),
        ("gen_ai.request.model", model),
        ("gen_ai.response.model", served),
        ("error.type", error or None),
        ("tiermix.tenant", tenant),
        ("tiermix.route", route),
        ("tiermix.request_id", "r-1" if attempt is not None or final is not None else None),
        ("tiermix.attempt", attempt),
        ("tiermix.final", final),
        ("tiermix.routing_score", score),
    ):
        if value is not None and value != "":
            expected[key] = value
    names = (
        "input_tokens",
        "output_tokens",
        "cache_read.input_tokens",
        "cache_creation.input_tokens",
        "reasoning.output_tokens",
    )
    expected.update({f"gen_ai.usage.{n}": v for n, v in zip(names, usage, strict=True) if v is not None})
    if finish:
        expected["gen_ai.response.finish_reasons"] = [finish]
    if score is not None:
        expected["tiermix.router"] = "r1"
    expected.update({f"tiermix.tag.{k}": v for k, v in tags.items()})
    assert attrs == expected
    for key in ("tiermix.attempt", "gen_ai.usage.input_tokens"):
        if key in attrs:
            assert type(attrs[key]) is int
    assert span.name == f"chat {model or served}" if (model or served) else span.name == "chat"
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (1_000, 2_000)
    assert span.status.code == (2 if error else 0)
    if parent is not None:
        assert span.trace_id == parent[0].to_bytes(16, "big")
        assert span.parent_span_id == parent[1].to_bytes(8, "big")
    assert len(span.span_id) == 8 and span.span_id != bytes(8)


def test_resource_carries_service_environment_and_sdk_identity() -> None:
    resource = encode.resource_for(
        resolve({"OTEL_RESOURCE_ATTRIBUTES": "team=cx"}, service="svc", environment="prod")
    )
    attrs = {kv.key: any_value(kv.value) for kv in Resource.FromString(resource).attributes}
    assert attrs["service.name"] == "svc"
    assert attrs["deployment.environment.name"] == "prod"
    assert attrs["telemetry.sdk.name"] == "tiermix"
    assert attrs["team"] == "cx"


def test_counts_that_are_no_whole_number_from_zero_never_reach_the_wire() -> None:
    # The openai client builds responses without validation (construct): a provider's odd usage
    # reaches the application as is. The app thread records it as read; the encoder clears it.
    from openai.types.chat import ChatCompletion
    from openai.types.completion_usage import CompletionTokensDetails, CompletionUsage, PromptTokensDetails

    from tiermix.extract import extract

    usage = CompletionUsage.model_construct(
        prompt_tokens=-5,
        completion_tokens=True,
        total_tokens=0,
        prompt_tokens_details=PromptTokensDetails.model_construct(cached_tokens="many"),
        completion_tokens_details=CompletionTokensDetails.model_construct(reasoning_tokens=7),
    )
    response = ChatCompletion.model_construct(
        object="chat.completion", model="gpt-4o", choices=[], usage=usage, id="x", created=0
    )
    extracted = extract(response)
    assert extracted is not None and extracted.input_tokens == -5, "read as is on the app thread"
    record = Record(1_000, 2_000, CallOptions(), Scope(), extracted, None, None)
    wire = ExportTraceServiceRequest.FromString(
        encode.encode([record], SETTINGS, encode.resource_for(SETTINGS))
    )
    [span] = wire.resource_spans[0].scope_spans[0].spans
    usage_attrs = {
        kv.key: any_value(kv.value) for kv in span.attributes if kv.key.startswith("gen_ai.usage.")
    }
    assert usage_attrs == {"gen_ai.usage.reasoning.output_tokens": 7}
