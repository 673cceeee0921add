"""Fakes of the providers' billing APIs, following their documented shapes, for reconciliation tests.

- OpenAI organization Costs and Usage API: ``GET /v1/organization/costs`` (``start_time`` / ``end_time``
  in Unix seconds, ``bucket_width=1d``, ``group_by=line_item``; buckets of ``results`` with
  ``amount: {value, currency}`` and ``line_item``) and ``GET /v1/organization/usage/completions``
  (``group_by=model``; ``input_tokens``, ``output_tokens``, ``input_cached_tokens``,
  ``num_model_requests``), ``Authorization: Bearer <admin key>``.
- Anthropic Usage & Cost Admin API: ``GET /v1/organizations/cost_report`` (``starting_at`` /
  ``ending_at`` RFC 3339, ``group_by[]=description``; ``amount`` a decimal string in cents, ``model``,
  ``description``, ``cost_type``) and ``GET /v1/organizations/usage_report/messages`` (``group_by[]=model``;
  ``uncached_input_tokens``, ``cache_read_input_tokens``, ``cache_creation``, ``output_tokens``),
  ``x-api-key`` and ``anthropic-version`` headers.

Both paginate: at most ``PAGE_BUCKETS`` buckets a page whatever ``limit`` says, ``has_more`` and an opaque
``next_page`` cursor, sent back as ``page``. A wrong key is 401 with an ``error`` object;
``fail_next(status, n)`` answers the next n requests with that status (``retry-after: 0`` on 429).
``requests`` counts requests by path.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes.serving import serve, stop

PAGE_BUCKETS = 2


class BillingApis:
    def __init__(self, openai_key: str = "sk-admin-openai", anthropic_key: str = "sk-ant-admin-test") -> None:
        self.openai_key = openai_key
        self.anthropic_key = anthropic_key
        # day -> [(line_item, usd)] / [(model, input, output, cached, requests)]
        self.openai_costs: dict[date, list[tuple[str, float]]] = {}
        self.openai_usage: dict[date, list[tuple[str, int, int, int, int]]] = {}
        # day -> [(description, model, usd)] / [(model, uncached, cache_read, output)]
        self.anthropic_costs: dict[date, list[tuple[str, str, float]]] = {}
        self.anthropic_usage: dict[date, list[tuple[str, int, int, int]]] = {}
        self.requests: Counter[str] = Counter()
        self._faults: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([status] * times)

    def __enter__(self) -> BillingApis:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self)

        self._server = serve(Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self._server)

    # -- HTTP ----------------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests[url.path] += 1
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            headers = {"retry-after": "0"} if fault == 429 else {}
            return _send(h, fault, {"error": {"type": "fault", "message": f"scripted {fault}"}}, headers)
        if url.path.startswith("/v1/organization/"):
            if h.headers.get("authorization") != f"Bearer {self.openai_key}":
                return _send(
                    h, 401, {"error": {"message": "Invalid admin key", "type": "invalid_request_error"}}
                )
            start = datetime.fromtimestamp(int(query["start_time"]), tz=timezone.utc).date()
            end = datetime.fromtimestamp(int(query["end_time"]), tz=timezone.utc).date()
            if url.path == "/v1/organization/costs":
                return _send(h, 200, self._page(start, end, query, self._openai_cost_bucket))
            if url.path == "/v1/organization/usage/completions":
                return _send(h, 200, self._page(start, end, query, self._openai_usage_bucket))
        if url.path.startswith("/v1/organizations/"):
            if h.headers.get("x-api-key") != self.anthropic_key or not h.headers.get("anthropic-version"):
                error = {"type": "authentication_error", "message": "invalid x-api-key"}
                return _send(h, 401, {"type": "error", "error": error})
            start, end = _rfc_day(query["starting_at"]), _rfc_day(query["ending_at"])
            if url.path == "/v1/organizations/cost_report":
                return _send(h, 200, self._page(start, end, query, self._anthropic_cost_bucket))
            if url.path == "/v1/organizations/usage_report/messages":
                return _send(h, 200, self._page(start, end, query, self._anthropic_usage_bucket))
        return _send(h, 404, {"error": {"message": f"no route {url.path}"}})

    def _page(self, start: date, end: date, query: dict[str, str], bucket: Any) -> dict[str, Any]:
        days = [start + timedelta(days=i) for i in range((end - start).days)]
        offset = int(base64.b64decode(query["page"]).decode()) if query.get("page") else 0
        size = min(int(query.get("limit", 7)), PAGE_BUCKETS)
        chosen = days[offset : offset + size]
        more = offset + size < len(days)
        return {
            "object": "page",
            "data": [bucket(day) for day in chosen],
            "has_more": more,
            "next_page": base64.b64encode(str(offset + size).encode()).decode() if more else None,
        }

    def _openai_cost_bucket(self, day: date) -> dict[str, Any]:
        results = [
            {"object": "organization.costs.result", "amount": {"value": usd, "currency": "usd"},
             "line_item": item, "project_id": None}
            for item, usd in self.openai_costs.get(day, [])
        ]  # fmt: skip
        return {"object": "bucket", "start_time": _unix(day), "end_time": _unix(day + timedelta(days=1)),
                "results": results}  # fmt: skip

    def _openai_usage_bucket(self, day: date) -> dict[str, Any]:
        results = [
            {"object": "organization.usage.completions.result", "input_tokens": i, "output_tokens": o,
             "input_cached_tokens": c, "input_audio_tokens": 0, "output_audio_tokens": 0,
             "num_model_requests": n, "project_id": None, "user_id": None, "api_key_id": None, "model": model,
             "batch": None}
            for model, i, o, c, n in self.openai_usage.get(day, [])
        ]  # fmt: skip
        return {"object": "bucket", "start_time": _unix(day), "end_time": _unix(day + timedelta(days=1)),
                "results": results}  # fmt: skip

    def _anthropic_cost_bucket(self, day: date) -> dict[str, Any]:
        results = [
            {"amount": f"{usd * 100:.6f}", "currency": "USD", "description": description,
             "cost_type": "tokens", "context_window": "0-200k", "model": model, "service_tier": "standard",
             "token_type": None, "workspace_id": None}
            for description, model, usd in self.anthropic_costs.get(day, [])
        ]  # fmt: skip
        return {"starting_at": f"{day}T00:00:00Z", "ending_at": f"{day + timedelta(days=1)}T00:00:00Z",
                "results": results}  # fmt: skip

    def _anthropic_usage_bucket(self, day: date) -> dict[str, Any]:
        results = [
            {"uncached_input_tokens": u, "cache_read_input_tokens": c,
             "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
             "output_tokens": o, "server_tool_use": {"web_search_requests": 0}, "model": model,
             "service_tier": "standard", "context_window": "0-200k", "workspace_id": None, "api_key_id": None}
            for model, u, c, o in self.anthropic_usage.get(day, [])
        ]  # fmt: skip
        return {"starting_at": f"{day}T00:00:00Z", "ending_at": f"{day + timedelta(days=1)}T00:00:00Z",
                "results": results}  # fmt: skip


def _unix(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


def _rfc_day(text: str) -> date:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _send(h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    h.send_response(status)
    h.send_header("content-type", "application/json")
    h.send_header("content-length", str(len(data)))
    for key, value in (headers or {}).items():
        h.send_header(key, value)
    h.end_headers()
    h.wfile.write(data)
