"""Two spans of one call that arrive in different requests, while the first still waits to be written.

``process`` merges the spans of one call that come in one export request (``identity.collapse``). Spans
of one call often come in two: the exporter's batch closed between them, or two instrumentations export
on their own. While the first call's row is not yet written — pending in the batcher, or *parked*: spooled
and answered, its insert waiting ``merge_window_s`` (``pipeline.py``) — a second span whose keys meet it
is merged into that row here: the more complete one leads, the other fills in, and the cost is priced
again when the usage changed. So the stored row keeps the most complete attributes whatever the order.
A span that comes after the row was written is a ``duplicate``: the first stored wins (docs/peers.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tiermix_server.ingest.identity import Sources, merge_two
from tiermix_server.ingest.write import LLM_CALLS_COLUMNS, CallRow

Reprice = Callable[[dict[str, Any]], None]

_USAGE = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
_INDEX = {name: index for index, name in enumerate(LLM_CALLS_COLUMNS)}


def as_fields(row: CallRow) -> dict[str, Any]:
    return dict(zip(LLM_CALLS_COLUMNS, row, strict=True))


def merge_rows(
    first: CallRow, first_from: Sources, second: CallRow, second_from: Sources, reprice: Reprice
) -> tuple[CallRow, Sources]:
    """``first`` and ``second`` are the same call: one row with the most complete attributes."""
    a, b = as_fields(first), as_fields(second)
    merged, sources = merge_two(a, first_from, b, second_from)
    leader = a if merged["span_id"] == a["span_id"] else b
    if any(merged[name] != leader[name] for name in _USAGE) or merged["model"] != leader["model"]:
        reprice(merged)  # usage or model came from the other span: the leader's cost no longer holds
    return tuple(merged[name] for name in LLM_CALLS_COLUMNS), sources


def enrich_again(enricher: Any) -> Reprice:
    """A ``Reprice`` over the ingest enricher: tier and cost of a merged row, as ingest would price it."""
    from tiermix_server.ingest.enrich import enrich_fields

    def reprice(fields: dict[str, Any]) -> None:
        tags = dict(fields["tags"])
        peer = tags.pop("peer_cost_usd", None)
        fields["tags"] = tags
        fields["explicit_tier"] = fields["tier"] if fields["tier_source"] == "sdk" else ""
        fields["sdk_cost_usd"] = fields["cost_usd"] if fields["price_source"] == "sdk" else None
        try:
            fields["peer_cost_usd"] = float(peer) if peer is not None else None
        except ValueError:
            fields["peer_cost_usd"] = None
        enrich_fields(enricher, fields, [])

    return reprice
