"""One provider call, one row: which spans are the same call, and the keys that remember it.

The same provider call reaches the collector through several spans when applications stack
instrumentations (docs/peers.md has what each peer really sends):
- **nested**: an LLM span whose parent is an LLM span of the same trace (OpenInference's anthropic
  span around the anthropic SDK's own span, a framework's LLM span around the client's);
- **shared response id**: spans carrying the same ``gen_ai.response.id`` for the same provider (and
  tenant, or none named) (OpenLLMetry's anthropic span and the anthropic SDK's are separate roots);
- **a request/response pair**: Logfire sends a streamed call as a request span without usage or id plus
  a "streaming response" log span with all of it; the request half is not a call (``is_pair_half``).

Within one export request the spans of one call are merged (``collapse``): the member with the most
complete usage leads, its empty fields are filled from the others, and a parent LLM span wrapping two or
more LLM calls is an aggregate, not a call. Across requests and restarts every stored call leaves
*keys* (``CallKeys.store``) in memory (``recent.py``) and in the ``call_keys`` table; a later span whose
``CallKeys.lookup`` meets one of them is the same call and is skipped as a duplicate. A tenant-bound
key's calls keep their keys in their tenant's scope, so another tenant's ids can never hide them.

A sender trusted with every tenant (no API keys, or an all-tenants key) may send a call's spans with and
without a tenant: the tiermix SDK's span says ``tiermix.tenant``, a peer's span of the same call does not.
Within a request an *unclaimed* span (no tenant) joins the claimed spans of its call (``collapse``);
across requests, a trusted sender's calls keep their keys in one scope of their own that no tenant name
can spell (``call_keys(trusted=True)``), whatever tenant their spans name or not, so the two spans meet
in either order; they also look up their span and response id in their tenant's keys, to meet a copy a
tenant-bound key sent first, or a call stored before this scope existed.
A tenant-bound key's calls keep and look up only their tenant's keys: its spans never meet another
tenant's call, nor a trusted sender's call stored after them (that pair stays two rows). Within a
trusted sender, ids are its own: across requests, the same span or response id sent again for another
tenant is the same call (within one request spans naming two tenants are never merged).

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
    """``lookup``: keys meaning "this call is already stored"; ``store``: the keys this call leaves;
    ``unclaimed``: no span of the call named a tenant (its row has the default tenant until a claimed
    span of the call is merged in).

    A named tuple, not a dataclass: one travels back from a decode worker with every call, written as a
    plain tuple and rebuilt with ``_make`` (``handoff.py``); a slotted dataclass would be rebuilt field by
    field (pickled, 3.2 µs per call there and back, measured; a tuple 1.2 µs).
    """

    lookup: tuple[int, ...]
    store: tuple[int, ...]
    unclaimed: bool = False
    # Another span of this call may still come: it has a parent or a response id to be met by, or no
    # usage (a tiermix span around a call a peer's span reports).
    mergeable: bool = False


def python_key(*parts: bytes | int) -> int:
    """blake2b-64 of ``parts`` (an ``int`` written in decimal) joined by the unit separator (0x1f),
    read big-endian; never 0. The definition of every key stored in ``call_keys``.

    One hash over one joined string: the same digest as feeding the pieces one by one (what stored
    ``call_keys`` were first made with), at half the calls into hashlib.
    """
    # ``type(part) is int``, not isinstance: a bool is no key part (the C hash refuses it as well).
    joined = b"\x1f".join([b"%d" % part if type(part) is int else part for part in parts])  # type: ignore[misc]
    return int.from_bytes(hashlib.blake2b(joined, digest_size=8).digest(), "big") or 1


# The same number computed in C (``_call_key.c``) when the install built it: a call's 3 to 6 keys cost
# ~0.78 µs each through hashlib, ~0.27 µs there (docs/performance.md).
try:
    from tiermix_server.ingest._call_key import key as _key
except ImportError:  # built without a C compiler
    _key = python_key
COMPILED_KEYS = _key is not python_key


def span_key(tenant: str, trace_id: bytes, span_id: int) -> int:
    return _span_key(tenant.encode(), trace_id, span_id)


def child_key(tenant: str, trace_id: bytes, parent_span_id: int) -> int:
    """Left by a stored call whose parent is ``parent_span_id``: that parent is the same call."""
    return _child_key(tenant.encode(), trace_id, parent_span_id)


def response_key(tenant: str, provider: str, response_id: str) -> int:
    return _response_key(tenant.encode(), provider.encode(), response_id.encode())


# The same keys in any scope (a tenant's name, or a trusted sender's scope that no name spells).
def _span_key(scope: bytes, trace_id: bytes, span_id: int) -> int:
    return _key(b"s", scope, trace_id, span_id)


def _child_key(scope: bytes, trace_id: bytes, parent_span_id: int) -> int:
    return _key(b"c", scope, trace_id, parent_span_id)


def _response_key(scope: bytes, provider: bytes, response_id: bytes) -> int:
    return _key(b"r", scope, provider, response_id)


# The scope of a trusted sender's keys: 0xff never occurs in UTF-8, so no tenant name spells it.
_TRUSTED_SCOPE = b"\xfftrusted"


@dataclass(frozen=True, slots=True)
class Member:
    """One span of a call: its ids, for the keys."""

    span_id: int
    parent_span_id: int


def call_keys(
    tenant: str,
    trace_id: bytes,
    members: Iterable[Member],
    provider: str,
    response_id: str,
    *,
    trusted: bool = False,
    claimed: bool = True,
    awaits_usage: bool = False,
) -> CallKeys:
    """The keys of one call. ``trusted``: its sender may write any tenant (module docstring);
    ``claimed``: a span of it named its tenant; ``awaits_usage``: it has none (another span may bring it).
    """
    scope = tenant.encode()
    kept_in = _TRUSTED_SCOPE if trusted else scope
    lookup: list[int] = []
    store: list[int] = []
    in_tenant: list[int] = []  # a trusted sender's: a tenant-bound key's copy, or a call stored before
    for member in members:
        own = _span_key(kept_in, trace_id, member.span_id)
        lookup += (own, _child_key(kept_in, trace_id, member.span_id))
        store.append(own)
        if member.parent_span_id:
            lookup.append(_span_key(kept_in, trace_id, member.parent_span_id))
            store.append(_child_key(kept_in, trace_id, member.parent_span_id))
        if trusted:
            in_tenant.append(_span_key(scope, trace_id, member.span_id))
    if response_id:
        provider_id, response = provider.encode(), response_id.encode()
        key = _response_key(kept_in, provider_id, response)
        lookup.append(key)
        store.append(key)
        if trusted:
            in_tenant.append(_response_key(scope, provider_id, response))
    mergeable = len(store) > 1 or awaits_usage
    return CallKeys(tuple(lookup + in_tenant), tuple(store), trusted and not claimed, mergeable)


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
    tiermix, provider_sdk = scope == TIERMIX_SCOPE, scope in PROVIDER_SDK_SCOPES
    return (1 if tiermix else 0, _usage_count(fields), 1 if provider_sdk else 0, depth)


def _usage_count(fields: dict[str, Any]) -> int:
    return sum(1 for name in _USAGE if fields[name])


# Where a call's row came from: the scope of the span that led the merge, and of the span its usage is
# from (the tiermix span leads with the attribution, but when it wraps the call with no usage of its own
# a later span with better usage must still replace what an earlier one lent: ``merge_two``).
Sources = tuple[str, str]
Merged = list[tuple[dict[str, Any], list[Member], Sources]]  # fields, the spans, where they came from


def collapse(calls: list[tuple[dict[str, Any], str]]) -> tuple[Merged, list[dict[str, Any]]]:
    """Merge the spans of one request that are the same call.

    ``calls``: (fields, scope) of each LLM span, its tenant resolved or ``""`` (unclaimed: a trusted
    sender's span naming no tenant, which joins the claimed spans of its call and takes their tenant).
    Spans of two different tenants are never one call. Returns the calls as (merged fields, the spans
    it was made of), and the aggregate spans left out (an LLM span wrapping several LLM calls: its calls
    are counted, it is not).
    """
    count = len(calls)
    parent = list(range(count))
    tenant_of = [fields["tenant"] for fields, _ in calls]  # per group root: the tenant its spans claim

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> bool:
        ra, rb = find(a), find(b)
        if ra == rb:
            return True
        ta, tb = tenant_of[ra], tenant_of[rb]
        if ta and tb and ta != tb:
            return False
        parent[rb] = ra
        tenant_of[ra] = ta or tb
        return True

    up_of = _parents(calls)
    children: dict[int, list[int]] = {}
    for i, up in enumerate(up_of):
        if up is not None:
            children.setdefault(up, []).append(i)
    aggregates = {up for up, kids in children.items() if len(kids) > 1}
    for up, kids in children.items():
        if up not in aggregates:
            union(up, kids[0])
    # Per response id: the first span of each tenant naming it, and the first naming no tenant (a dict
    # per id, not a list: a request of thousands of spans with one id and as many tenants stays linear).
    by_response: dict[tuple[str, str], dict[str, int]] = {}
    for i, (fields, _) in enumerate(calls):
        if i in aggregates or not fields["response_id"]:
            continue
        firsts = by_response.setdefault((fields["provider"], fields["response_id"]), {})
        tenant = fields["tenant"]
        first = firsts.setdefault(tenant, i)
        if first != i:
            union(first, i)
        elif not tenant and len(firsts) > 1:  # the first unclaimed span joins a claimed one
            union(next(iter(firsts.values())), i)
        elif tenant and "" in firsts:  # the first span of a tenant meets the unclaimed ones
            union(firsts[""], i)
    groups: dict[int, list[int]] = {}
    for i in range(count):
        if i not in aggregates:
            groups.setdefault(find(i), []).append(i)
    out: Merged = []
    for members in groups.values():
        if len(members) == 1 and not aggregates:  # the common case: a call seen once, nothing to merge
            fields, scope = calls[members[0]]
            out.append((fields, [Member(fields["span_id"], fields["parent_span_id"])], (scope, scope)))
            continue
        depth = {i: _depth(i, up_of) for i in members}
        ranked = sorted(
            members, key=lambda i: _completeness(calls[i][0], calls[i][1], depth[i]), reverse=True
        )
        merged = dict(calls[ranked[0]][0])
        scope = calls[ranked[0]][1]
        usage_scope = next((calls[i][1] for i in ranked if _usage_count(calls[i][0])), scope)
        for other in ranked[1:]:
            _fill(merged, calls[other][0])
        # Calls inside an aggregate inherit the attribution it alone has.
        for up in dict.fromkeys(up for i in members if (up := up_of[i]) in aggregates):
            if _same_tenant(merged, calls[up][0]):
                _fill(merged, calls[up][0], usage=False)
        out.append(
            (
                merged,
                [Member(calls[i][0]["span_id"], calls[i][0]["parent_span_id"]) for i in members],
                (scope, usage_scope),
            )
        )
    return out, [calls[i][0] for i in sorted(aggregates)]


def _parents(calls: list[tuple[dict[str, Any], str]]) -> list[int | None]:
    """Each span's parent among ``calls`` (same trace, a tenant it may share), or None.

    A span without an id is no one's parent (validation rejects it): indexed, its id 0 would match the
    "no parent" of every root span in its trace and make it their aggregate. Dicts only, no scans: a
    request of thousands of spans sharing one id stays linear.
    """
    if not any(fields["parent_span_id"] for fields, _ in calls):  # root spans only: nothing to look up
        return [None] * len(calls)
    by_tenant: dict[tuple[Any, Any, str], int] = {}  # (trace, span, tenant or "") → the first such span
    by_id: dict[tuple[Any, Any], int] = {}  # (trace, span) → the first span of any tenant
    for i, (fields, _) in enumerate(calls):
        if fields["span_id"]:
            by_tenant.setdefault((fields["trace_id"], fields["span_id"], fields["tenant"]), i)
            by_id.setdefault((fields["trace_id"], fields["span_id"]), i)
    up_of: list[int | None] = []
    for i, (fields, _) in enumerate(calls):
        trace, parent, tenant = fields["trace_id"], fields["parent_span_id"], fields["tenant"]
        up = by_tenant.get((trace, parent, tenant))
        if up is None:
            up = by_tenant.get((trace, parent, "")) if tenant else by_id.get((trace, parent))
        up_of.append(None if up == i else up)
    return up_of


def _same_tenant(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """May ``a`` and ``b`` be spans of one call: the same tenant, or one of them unclaimed."""
    return not a["tenant"] or not b["tenant"] or a["tenant"] == b["tenant"]


def merge_two(
    first: dict[str, Any], first_from: Sources, second: dict[str, Any], second_from: Sources
) -> tuple[dict[str, Any], Sources]:
    """Two spans of one call met in different requests: the more complete leads, the other fills in,
    and the usage is the one ``collapse`` would have chosen had they come together (whatever the order)."""
    if _completeness(second, second_from[0], 0) > _completeness(first, first_from[0], 0):
        first, first_from, second, second_from = second, second_from, first, first_from
    merged = dict(first)
    _fill(merged, second)
    merged["tags"] = {**second["tags"], **first["tags"]}
    usage_from = first_from[1]
    if _usage_rank(second, second_from[1]) > _usage_rank(first, first_from[1]):
        merged.update({name: second[name] for name in _USAGE if second[name]})
        usage_from = second_from[1]
    return merged, (first_from[0], usage_from)


def _usage_rank(fields: dict[str, Any], scope: str) -> tuple[int, ...]:
    """Whose usage a merged row keeps: ``_completeness`` of the span it came from; none ranks last."""
    return _completeness(fields, scope, 0)[:3] if _usage_count(fields) else (-1,)


def _depth(i: int, up_of: list[int | None]) -> int:
    depth, seen = 0, {i}
    up = up_of[i]
    while up is not None and up not in seen:
        seen.add(up)
        depth += 1
        up = up_of[up]
    return depth


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
