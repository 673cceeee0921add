"""One OTLP request → rows and outcomes: every span accounted for, tenant stamping, enrichment seam."""

from __future__ import annotations

import inspect
import json
import time

from tests.unit.ingest.builders import request, sdk_attributes, span
from tiermix_server.ingest.identity import CallKeys
from tiermix_server.ingest.process import process
from tiermix_server.ingest.validate import Limits
from tiermix_server.ingest.write import LLM_CALLS_COLUMNS
from tiermix_server.pricing.enricher import Enricher, Enrichment

PRICE_ARGUMENTS = inspect.getfullargspec(Enricher.price).args[1:]


class FixedEnricher:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[dict[str, object]] = []

    def price(self, *call: object) -> Enrichment:
        self.seen.append(dict(zip(PRICE_ARGUMENTS, call, strict=True)))
        if self.fail:
            raise RuntimeError("price book broken")
        return Enrichment("small", "rule:*mini*", 0.001, "genai-prices:openai/gpt-4o-mini", False)


def limits() -> Limits:
    return Limits(now_ns=time.time_ns(), max_age_days=90)


def column(row: tuple[object, ...], name: str) -> object:
    return row[LLM_CALLS_COLUMNS.index(name)]


def test_every_span_ends_in_exactly_one_outcome() -> None:
    message = request(
        [
            span(),
            span(sdk_attributes(**{"gen_ai.usage.input_tokens": -3})),
            span({"http.method": "GET"}),
            span({"tiermix.drop.count": 4, "tiermix.drop.reason": "queue_full"}, name="tiermix.drop_report"),
        ]
    )
    out = process(message, enricher=FixedEnricher(), limits=limits())
    assert len(out.calls) == 1 and len(out.drops) == 1
    assert dict(out.outcomes) == {
        ("acme", "accepted", ""): 1,
        ("acme", "rejected", "negative_tokens"): 1,
        ("default", "skipped", "not_llm"): 1,
        ("default", "skipped", "drop_report"): 1,
    }
    assert out.rejected == 1
    assert out.rejection_summary() == "1 span(s) rejected: negative_tokens"


def test_enrichment_fills_tier_and_cost() -> None:
    enricher = FixedEnricher()
    (row,) = process(request([span()]), enricher=enricher, limits=limits()).calls
    assert (column(row, "tier"), column(row, "cost_usd"), column(row, "unpriced")) == ("small", 0.001, False)
    assert enricher.seen[0]["model"] == "gpt-4o-mini-2024-07-18"
    assert enricher.seen[0]["input_tokens"] == 120


def test_a_failing_enricher_stores_the_call_unpriced() -> None:
    (row,) = process(request([span()]), enricher=FixedEnricher(fail=True), limits=limits()).calls
    assert (column(row, "unpriced"), column(row, "cost_usd"), column(row, "tier")) == (True, 0.0, "")


def test_a_tenant_bound_key_stamps_its_tenant_on_every_row() -> None:
    message = request(
        [
            span(sdk_attributes(**{"tiermix.tenant": "someone-else"})),
            span({"tiermix.drop.count": 1, "tiermix.tenant": "someone-else"}, name="tiermix.drop_report"),
        ]
    )
    out = process(message, enricher=FixedEnricher(), limits=limits(), tenant="acme")
    assert column(out.calls[0], "tenant") == "acme"
    assert out.drops[0][3] == "acme"
    assert {tenant for tenant, _, _ in out.outcomes} == {"acme"}


def test_content_never_reaches_a_row_and_is_decoded_only_for_a_capture_policy() -> None:
    from tiermix_server.ingest.capture import CaptureGate
    from tiermix_server.ingest.redact import default_redact

    messages = '[{"role":"user","content":"mail bob@example.com"}]'
    attributes = sdk_attributes(**{"gen_ai.input.messages": messages, "gen_ai.request.temperature": 0.2})
    message = request([span(attributes)])
    gate = CaptureGate(ttl_days=14, max_bytes=10_000, redact=default_redact)
    out = process(message, enricher=FixedEnricher(), limits=limits(), capture=gate)
    assert column(out.calls[0], "tags") == {} and out.captures == [None]  # no policy: nothing decoded
    gate.set_policies({("acme", "support.answer"): 1.0})
    out = process(message, enricher=FixedEnricher(), limits=limits(), capture=gate)
    (row,), (capture,) = out.calls, out.captures
    assert column(row, "tags") == {}
    assert capture is not None and capture[5] == column(row, "span_id")
    assert json.loads(capture[-3]) == {
        "messages": [{"role": "user", "content": "mail [redacted:email]"}],
        "params": {"temperature": 0.2},
    }
    gate.set_policies({("acme", "other.route"): 1.0})
    assert process(message, enricher=FixedEnricher(), limits=limits(), capture=gate).captures == [None]


def test_a_span_without_an_id_is_rejected_not_made_the_parent_of_its_traces_calls() -> None:
    """Its id 0 equals the "no parent" of every root span: it was taken for their aggregate, skipped
    instead of reported, and its attribution filled into their rows."""
    trace = b"T" * 16
    roots = [span(sdk_attributes(**{"tiermix.route": ""}), trace_id=trace) for _ in range(2)]
    idless = span(sdk_attributes(**{"tiermix.route": "injected"}), trace_id=trace)
    idless.span_id = b""
    out = process(request([*roots, idless]), enricher=FixedEnricher(), limits=limits())
    assert dict(out.outcomes) == {("acme", "accepted", ""): 2, ("acme", "rejected", "invalid_span_id"): 1}
    assert [column(row, "route") for row in out.calls] == ["", ""]
    assert out.rejection_summary() == "1 span(s) rejected: invalid_span_id"


def peer_attributes(**overrides: object) -> dict[str, object]:
    """A peer instrumentation's span of the call: usage and response id, no tiermix attribution."""
    attributes = sdk_attributes(**{"tiermix.tenant": None, "tiermix.route": None, **overrides})
    return {"gen_ai.response.id": "chatcmpl-1", **attributes}


def test_a_trusted_senders_span_without_a_tenant_joins_the_claimed_span_of_its_call() -> None:
    """An all-tenants key (or no keys): the tiermix span names acme, the peer span nested in it names no
    one. Counted once, as acme's, not once for acme and once more for the default tenant."""
    trace = b"N" * 16
    outer = span(sdk_attributes(), trace_id=trace)
    inner = span(peer_attributes(), trace_id=trace)
    inner.parent_span_id = outer.span_id
    out = process(request([outer, inner]), enricher=FixedEnricher(), limits=limits())
    (row,) = out.calls
    assert (column(row, "tenant"), column(row, "route")) == ("acme", "support.answer")
    assert dict(out.outcomes) == {("acme", "accepted", ""): 1, ("acme", "skipped", "same_call"): 1}
    assert not out.keys[0].unclaimed


def test_an_unclaimed_span_joins_by_response_id_and_stays_default_on_its_own() -> None:
    claimed = span(sdk_attributes(**{"gen_ai.response.id": "chatcmpl-1"}))
    peer = span(peer_attributes())  # another trace, the same response id
    alone = span(peer_attributes(**{"gen_ai.response.id": "chatcmpl-2"}))
    out = process(request([claimed, peer, alone]), enricher=FixedEnricher(), limits=limits())
    assert sorted(str(column(row, "tenant")) for row in out.calls) == ["acme", "default"]
    assert dict(out.outcomes) == {
        ("acme", "accepted", ""): 1,
        ("acme", "skipped", "same_call"): 1,
        ("default", "accepted", ""): 1,
    }
    assert [keys.unclaimed for keys in out.keys] == [False, True]


def test_spans_claiming_two_tenants_are_never_one_call() -> None:
    trace = b"G" * 16
    outer = span(sdk_attributes(**{"gen_ai.response.id": "chatcmpl-1"}), trace_id=trace)
    inner = span(
        sdk_attributes(**{"tiermix.tenant": "globex", "gen_ai.response.id": "chatcmpl-1"}), trace_id=trace
    )
    inner.parent_span_id = outer.span_id
    out = process(request([outer, inner]), enricher=FixedEnricher(), limits=limits())
    assert sorted(str(column(row, "tenant")) for row in out.calls) == ["acme", "globex"]
    # A tenant-bound key claims every span for its tenant: the same two spans are one call.
    bound = process(request([outer, inner]), enricher=FixedEnricher(), limits=limits(), tenant="acme")
    assert len(bound.calls) == 1


def test_keys_meet_across_requests_between_claimed_and_unclaimed_spans_of_a_trusted_sender() -> None:
    """What ``recent.py`` and ``call_keys`` compare when the spans of one call come in two requests."""

    def keys(attributes: dict[str, object], tenant: str | None = None) -> CallKeys:
        out = process(request([span(attributes)]), enricher=FixedEnricher(), limits=limits(), tenant=tenant)
        return out.keys[0]

    def meet(later: CallKeys, first: CallKeys) -> bool:
        return not set(later.lookup).isdisjoint(first.store)

    acme = keys(sdk_attributes(**{"gen_ai.response.id": "chatcmpl-1"}))
    unclaimed = keys(peer_attributes())
    assert meet(acme, unclaimed) and meet(unclaimed, acme)
    assert meet(unclaimed, keys(peer_attributes()))
    assert unclaimed.unclaimed and not acme.unclaimed
    # A tenant-bound key's calls keep their tenant's keys only: another tenant's never meet them, nor
    # a trusted sender's spans without a tenant; a trusted sender's copy of the call finds them.
    bound = keys(peer_attributes(), tenant="acme")
    assert meet(acme, bound) and not meet(bound, acme)
    assert not meet(keys(peer_attributes(), tenant="globex"), bound)
    assert not meet(bound, unclaimed) and not meet(unclaimed, bound)
    assert not bound.unclaimed
    # An unclaimed call is the default tenant's: it finds what a key bound to that tenant sent.
    assert meet(unclaimed, keys(peer_attributes(), tenant="default"))


def test_a_call_without_usage_waits_for_the_span_that_has_it() -> None:
    """A tiermix span around a call a peer reports has no usage of its own: its batch is parked for the
    merge window (``CallKeys.mergeable``) like a call with a parent, so a later peer span can fill it."""
    wrapper = span(sdk_attributes(**{"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None}))
    (keys,) = process(request([wrapper]), enricher=FixedEnricher(), limits=limits()).keys
    assert keys.mergeable
    (keys,) = process(request([span()]), enricher=FixedEnricher(), limits=limits()).keys
    assert not keys.mergeable


def test_one_response_id_under_many_tenants_is_one_call_per_tenant() -> None:
    """A trusted sender's request where one response id comes with several tenants (hostile, or a bug):
    each tenant's spans are one call, the span naming no tenant joins the first tenant's, none is lost.
    ``collapse`` finds them through dicts: a list scanned per span took 735 µs a span at 8,000."""
    claimed = [
        span(sdk_attributes(**{"tiermix.tenant": tenant, "gen_ai.response.id": "chatcmpl-1"}))
        for tenant in ("acme", "globex", "initech", "acme", "globex", "initech")
    ]
    out = process(request([*claimed, span(peer_attributes())]), enricher=FixedEnricher(), limits=limits())
    assert sorted(str(column(row, "tenant")) for row in out.calls) == ["acme", "globex", "initech"]
    assert out.outcomes[("acme", "skipped", "same_call")] == 2
    assert sum(n for (_, outcome, _), n in out.outcomes.items() if outcome == "skipped") == 4
