"""Content capture for shadow replay: which calls keep their request and answer, within what budget.

Off unless a capture policy names the tenant's route (``tiermix capture set``, ``PUT
/api/v1/capture/policies``): with no policy, content attributes are not even decoded. With one, a call
is captured when all hold:

- it is a final, successful chat call outside the ``shadow`` environment (a replay's own calls are never
  captured), on a route with a policy (its own, else the tenant's ``*``);
- its request is sampled: a hash of the request id against the policy's rate, so every instrumentation
  of the call, and a resent export, make the same choice;
- its request can be rebuilt (``content.py``) and is at most ``MAX_CAPTURE_BYTES``;
- redaction (``redact.py``) succeeded;
- the tenant's captured bytes stay within ``TIERMIX_CAPTURE_MAX_BYTES``: the tenant's stored bytes are
  read at start and every ``REFRESH_S`` (TTL expiry frees room), plus what was admitted since. Past the
  budget new calls are not captured; nothing already captured is evicted;
- it has not already expired (``ts`` + ``TIERMIX_CAPTURE_TTL_DAYS`` is still ahead).

Every sampled call that had content but was not captured is counted by reason in ``/metrics``
(``tiermix_capture_skipped_total``), next to ``tiermix_captured_calls_total``. Captured rows travel in
the same batch as the call (``write.Batch.captures``), so they are as durable as the call, and resent
exports collapse on ``span_id``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from tiermix_server.ingest.content import replay_content
from tiermix_server.ingest.redact import Redactor, redact_value
from tiermix_server.ingest.write import CAPTURE_COLUMNS, LLM_CALLS_COLUMNS, CallRow
from tiermix_server.metrics.filters import SHADOW_ENVIRONMENT

log = logging.getLogger("tiermix.capture")

ANY_ROUTE = "*"
MAX_CAPTURE_BYTES = 256 * 1024  # one call's request + answer; a larger one is skipped as too_large
REFRESH_S = 30.0
_COL = {name: index for index, name in enumerate(LLM_CALLS_COLUMNS)}
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads sequential request ids over the 64-bit range
_MASK = (1 << 64) - 1

CaptureRow = tuple[Any, ...]
# What a capture row copies from its call row: every column before its content (write.CAPTURE_COLUMNS).
_FROM_CALL = CAPTURE_COLUMNS[: CAPTURE_COLUMNS.index("request")]


def sampled(request_id: int, rate: float) -> bool:
    if rate >= 1.0:
        return True
    return ((request_id * _MIX) & _MASK) < rate * (1 << 64)


class CaptureGate:
    """The policies and per-tenant budget ingest consults; safe to call from any thread."""

    def __init__(self, *, ttl_days: int, max_bytes: int, redact: Redactor) -> None:
        self.ttl_days = ttl_days
        self.max_bytes = max_bytes
        self._redact = redact
        self._policies: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._stored: dict[str, int] = {}  # per tenant, as read at the last refresh
        self._admitted: Counter[str] = Counter()  # per tenant, since the last refresh began
        self.stats: Any = None  # ingest/stats.py IngestStats, once the pipeline has one

    @property
    def active(self) -> bool:
        return bool(self._policies)

    def set_policies(self, policies: Mapping[tuple[str, str], float]) -> None:
        self._policies = dict(policies)

    def rate(self, tenant: str, route: str) -> float | None:
        policies = self._policies
        rate = policies.get((tenant, route))
        return policies.get((tenant, ANY_ROUTE)) if rate is None else rate

    def used_bytes(self, tenant: str) -> int:
        with self._lock:
            return self._stored.get(tenant, 0) + self._admitted[tenant]

    def refresh_usage(self, read_stored: Any) -> None:
        """Re-read stored bytes per tenant (``read_stored() -> {tenant: bytes}``), keeping admissions
        made while it ran: the budget is never under-counted."""
        with self._lock:
            before = Counter(self._admitted)
        stored = read_stored()
        with self._lock:
            self._stored = dict(stored)
            self._admitted = self._admitted - before

    def take(self, row: CallRow, content: Mapping[str, Any], now_s: float | None = None) -> CaptureRow | None:
        """The capture row of ``row`` when it is to be kept; None otherwise (counted when it had content)."""
        tenant, route = row[_COL["tenant"]], row[_COL["route"]]
        rate = self.rate(tenant, route)
        if rate is None or not sampled(row[_COL["request_id"]], rate):
            return None
        reason = self._not_capturable(row)
        if reason is not None:
            self._skip(reason)
            return None
        ts_us = row[_COL["ts"]]
        expires_s = ts_us // 1_000_000 + self.ttl_days * 86_400
        if expires_s <= (time.time() if now_s is None else now_s):
            self._skip("expired")
            return None
        request, answer = replay_content(content)
        if request is None:
            self._skip("no_request")
            return None
        try:
            request = redact_value(request, self._redact)
            answer = redact_value(answer, self._redact)
        except Exception:
            log.exception("the capture redaction hook failed; the call is not captured")
            self._skip("redaction_failed")
            return None
        request_text = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
        nbytes = len(request_text.encode()) + len(answer.encode())
        if nbytes > MAX_CAPTURE_BYTES:
            self._skip("too_large")
            return None
        with self._lock:
            if self._stored.get(tenant, 0) + self._admitted[tenant] + nbytes > self.max_bytes:
                self._skip("budget")
                return None
            self._admitted[tenant] += nbytes
        if self.stats is not None:
            self.stats.count("tiermix_captured_calls_total")
        return (ts_us, expires_s, *(row[_COL[name]] for name in _FROM_CALL[2:]), request_text, answer, nbytes)

    def _skip(self, reason: str) -> None:
        if self.stats is not None:
            self.stats.count("tiermix_capture_skipped_total", reason=reason)

    @staticmethod
    def _not_capturable(row: CallRow) -> str | None:
        if row[_COL["environment"]] == SHADOW_ENVIRONMENT:
            return "shadow"
        if not row[_COL["final"]] or row[_COL["status"]] != "ok":
            return "not_final_ok"
        if row[_COL["operation"]] not in ("chat", "text_completion"):
            return "not_chat"
        return None


def rebind(capture: CaptureRow, call: CallRow) -> CaptureRow:
    """``capture`` attached to ``call``: a span of another request merged into the call (``merge.py``),
    so its span id, usage and cost are the merged row's; the content and its expiry move with it."""
    ts_us = call[_COL["ts"]]
    expires_s = capture[1] + (ts_us - capture[0]) // 1_000_000
    head = [ts_us, expires_s, *(call[_COL[name]] for name in _FROM_CALL[2:])]
    return (*head, *capture[len(_FROM_CALL) :])


def stored_bytes(client: Any) -> dict[str, int]:
    """Captured bytes per tenant that are still readable (not past their TTL)."""
    result = client.query(
        "SELECT tenant, sum(bytes) FROM replay_captures FINAL WHERE expires_at > now() GROUP BY tenant"
    )
    return {str(tenant): int(total) for tenant, total in result.result_rows}
