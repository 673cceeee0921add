"""One provider call, one row: which spans are the same call, and the keys that remember it.

The same provider call reaches the collector through several spans when applications stack
instrumentations (docs/peers.md has what each peer really sends):
- **nested**: an LLM span whose parent is an LLM span of the same trace (OpenInference's anthropic
  span around the anthropic SDK's own span, a framework's LLM span around the client's);
- **shared response id**: spans carrying the same ``gen_ai.response.id`` for the same tenant and provider
  (OpenLLMetry's anthropic span and the anthropic SDK's span are separate roots sharing it);
- **a request/response pair**: Logfire sends a streamed call as a request span without usage or id plus
  a "streaming response" log span with all of it; the request half is not a call (``is_pair_half``).

Within one export request the spans of one call are merged (``collapse``): the member with the most
complete usage leads, its empty fields are filled from the others, and a parent LLM span wrapping two or
more LLM calls is an aggregate, not a call. Across requests and restarts every stored call leaves
*keys* (``CallKeys.store``) in memory (``recent.py``) and in the ``call_keys`` table; a later span whose
``CallKeys.lookup`` meets one of them is the same call and is skipped as a duplicate. Keys are scoped by
tenant, so one tenant's ids can never hide another tenant's call.

Where it cannot hold: two instrumentations in *separate traces with no shared id* (OpenInference's
LangChain and OpenAI instrumentors together, the anthropic SDK's streamed span next to OpenInference's)
look like two calls; docs/peers.md recommends the configuration for each, and
``TIERMIX_IGNORE_SCOPES`` drops one instrumentation's spans at the collector.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

TIERMIX_SCOPE = "tiermix"
# Instrumentation scopes of the providers' own SDKs (seen in the peer corpus): closest to the wire, so
# they lead a merge on ties.
PROVIDER_SDK_SCOPES = frozenset({"com.anthropic.sdk.python"})
# Fields a merge fills from other members when the leader has them empty (never ids or timestamps).
_FILLABLE = (
    "provider",
    "operation",
    "request_model",
    "model",
    "tenant",
    "route",
    "user_hash",
    "escalation_reason",
    "escalation_detail",
    "explicit_tier",
    "router",
    "routing_reason",
    "error_type",
    "service",
    "environment",
    "finish_reason",
    "response_id",
    "ttft_ms",
    "routing_score",
    "sdk_cost_usd",
    "peer_cost_usd",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
_USAGE = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
_TIERMIX_SET = ("request_id",)  # explicit tiermix attribution travels with whichever member had it


class CallKeys(NamedTuple):
    """``lookup``: keys meaning "this call is already stored"; ``store``: the keys this call leaves.

    A named tuple, not a dataclass: one travels back from a decode worker with every call, and a slotted
    dataclass pickles through ``dataclasses.fields()`` each time (3.2 µs per call there and back,
    measured; a tuple 1.2 µs), which the collector paid holding the GIL.
    """

    lookup: tuple[int, ...]
    store: tuple[int, ...]

    @property
    def mergeable(self) -> bool:
        """Another span of this call may still come (it has a parent or a response id to be met by)."""
        return len(self.store) > 1


def _key(kind: bytes, *parts: bytes) -> int:
    """blake2b-64 of ``kind`` and ``parts`` joined by the unit separator (0x1f); never 0.

    One hash over one joined string: the same digest as feeding the pieces one by one (what stored
    ``call_keys`` were made with), at half the calls into hashlib.
    """
    digest = hashlib.blake2b(b"\x1f".join((kind, *parts)), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def span_key(tenant: str, trace_id: bytes, span_id: int) -> int:
    return _key(b"s", tenant.encode(), trace_id, b"%d" % span_id)


def child_key(tenant: str, trace_id: bytes, parent_span_id: int) -> int:
    """Left by a stored call whose parent is ``parent_span_id``: that parent is the same call."""
    return _key(b"c", tenant.encode(), trace_id, b"%d" % parent_span_id)


def response_key(tenant: str, provider: str, response_id: str) -> int:
    return _key(b"r", tenant.encode(), provider.encode(), response_id.encode())


@dataclass(frozen=True, slots=True)
class Member:
    """One span of a call: its ids, for the keys."""

    span_id: int
    parent_span_id: int


def call_keys(
    tenant: str, trace_id: bytes, members: Iterable[Member], provider: str, response_id: str
) -> CallKeys:
    lookup: list[int] = []
    store: list[int] = []
    for member in members:
        own = span_key(tenant, trace_id, member.span_id)
        lookup += (own, child_key(tenant, trace_id, member.span_id))
        store.append(own)
        if member.parent_span_id:
            lookup.append(span_key(tenant, trace_id, member.parent_span_id))
            store.append(child_key(tenant, trace_id, member.parent_span_id))
    if response_id:
        key = response_key(tenant, provider, response_id)
        lookup.append(key)
        store.append(key)
    return CallKeys(tuple(lookup), tuple(store))


def is_pair_half(fields: dict[str, Any], scope: str) -> bool:
    """Logfire's request half of a streamed call: no usage, no response id; its log span is the call."""
    return (
        scope.startswith("logfire.")
        and fields.get("logfire_span_type") == "span"
        and not fields["response_id"]
        and fields["input_tokens"] is None
        and fields["output_tokens"] is None
        and fields["status"] == "ok"
    )


def _completeness(fields: dict[str, Any], scope: str, depth: int) -> tuple[int, int, int, int]:
    """Who leads a merge: the tiermix SDK (it carries the attribution), then the most usage fields,
    then a provider SDK's own span, then the innermost span (closest to the wire)."""
    usage = sum(1 for name in _USAGE if fields[name])
    return (1 if scope == TIERMIX_SCOPE else 0, usage, 1 if scope in PROVIDER_SDK_SCOPES else 0, depth)


Merged = list[tuple[dict[str, Any], list[Member], str]]  # fields, the spans, the leader's scope


def collapse(calls: list[tuple[dict[str, Any], str]]) -> tuple[Merged, list[dict[str, Any]]]:
    """Merge the spans of one request that are the same call.

    ``calls``: (fields, scope) of each LLM span, tenant already resolved. Returns the calls as
    (merged fields, the spans it was made of), and the aggregate spans left out (an LLM span wrapping
    several LLM calls: its calls are counted, it is not).
    """
    count = len(calls)
    parent = list(range(count))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    # A span without an id is no one's parent (validation rejects it): indexed, its id 0 would match the
    # "no parent" of every root span in its trace and make it their aggregate.
    by_span = {
        (fields["tenant"], fields["trace_id"], fields["span_id"]): i
        for i, (fields, _) in enumerate(calls)
        if fields["span_id"]
    }
    children: dict[int, list[int]] = {}
    for i, (fields, _) in enumerate(calls):
        up = by_span.get((fields["tenant"], fields["trace_id"], fields["parent_span_id"]))
        if up is not None and up != i:
            children.setdefault(up, []).append(i)
    aggregates = {up for up, kids in children.items() if len(kids) > 1}
    for up, kids in children.items():
        if up not in aggregates:
            union(up, kids[0])
    by_response: dict[tuple[str, str, str], int] = {}
    for i, (fields, _) in enumerate(calls):
        if i in aggregates or not fields["response_id"]:
            continue
        key = (fields["tenant"], fields["provider"], fields["response_id"])
        first = by_response.setdefault(key, i)
        if first != i:
            union(first, i)
    groups: dict[int, list[int]] = {}
    for i in range(count):
        if i not in aggregates:
            groups.setdefault(find(i), []).append(i)
    out: Merged = []
    for members in groups.values():
        if len(members) == 1 and not aggregates:  # the common case: a call seen once, nothing to merge
            fields, scope = calls[members[0]]
            out.append((fields, [Member(fields["span_id"], fields["parent_span_id"])], scope))
            continue
        depth = {i: _depth(i, calls, by_span) for i in members}
        ranked = sorted(
            members, key=lambda i: _completeness(calls[i][0], calls[i][1], depth[i]), reverse=True
        )
        merged = dict(calls[ranked[0]][0])
        scope = calls[ranked[0]][1]
        for other in ranked[1:]:
            _fill(merged, calls[other][0])
        for up in aggregates:  # calls inside an aggregate inherit the attribution it alone has
            if any(i in children[up] for i in members):
                _fill(merged, calls[up][0], usage=False)
        out.append(
            (merged, [Member(calls[i][0]["span_id"], calls[i][0]["parent_span_id"]) for i in members], scope)
        )
    return out, [calls[i][0] for i in sorted(aggregates)]


def merge_two(
    first: dict[str, Any], first_scope: str, second: dict[str, Any], second_scope: str
) -> tuple[dict[str, Any], str]:
    """Two spans of one call met in different requests: the more complete leads, the other fills in."""
    if _completeness(second, second_scope, 0) > _completeness(first, first_scope, 0):
        first, first_scope, second = second, second_scope, first
    merged = dict(first)
    _fill(merged, second)
    merged["tags"] = {**second["tags"], **first["tags"]}
    return merged, first_scope


def _depth(i: int, calls: list[tuple[dict[str, Any], str]], by_span: dict[tuple[Any, Any, Any], int]) -> int:
    depth, seen = 0, {i}
    fields = calls[i][0]
    while True:
        up = by_span.get((fields["tenant"], fields["trace_id"], fields["parent_span_id"]))
        if up is None or up in seen:
            return depth
        seen.add(up)
        depth += 1
        fields = calls[up][0]


def _fill(merged: dict[str, Any], other: dict[str, Any], *, usage: bool = True) -> None:
    for name in _FILLABLE:
        if not usage and name in _USAGE:
            continue
        if merged.get(name) in (None, "", 0) and other.get(name) not in (None, "", 0):
            merged[name] = other[name]
    for name in _TIERMIX_SET:
        if merged[name] == merged["span_id"] and other[name] != other["span_id"]:
            merged[name] = other[name]
    if not merged["tags"] and other["tags"]:
        merged["tags"] = dict(other["tags"])
    # Content attributes are united, the leader's winning: one instrumentation may send only the
    # request parameters (the anthropic SDK's span) and another the messages (OpenLLMetry's).
    if other.get("content"):
        merged["content"] = {**other["content"], **(merged.get("content") or {})}
