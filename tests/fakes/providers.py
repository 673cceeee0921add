"""A local HTTP fake of the OpenAI and Anthropic APIs, for driving the real client libraries.

Usage::

    with FakeProviders() as fake:                       # 127.0.0.1, free port
        oa = openai.OpenAI(base_url=fake.openai_base_url, api_key="test")
        an = anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="test")
        fake.serve_as["router-model"] = "gpt-4o-mini"    # answer with another model name
        fake.fail_next(500, times=1)                     # next request answers 500 (then normal)

Endpoints: ``POST /v1/chat/completions`` (also ``stream`` with ``stream_options.include_usage``),
``/v1/responses`` (also ``stream``), ``/v1/embeddings``, ``/v1/completions``, ``/v1/messages``
(Anthropic, also ``stream``). Usage is fixed per API (the ``*_USAGE`` constants below), the answer
text is ``ANSWER``, and the served model is the requested one unless ``serve_as`` maps it.
Every response has an id of its own (as the providers' do: instrumentations report it as
``gen_ai.response.id``). Every request body is kept in ``requests`` as ``(path, json_body)``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "Hello world"
CHUNKS = ("Hello", " world")
# OpenAI usage: input includes cached, output includes reasoning (as the API reports it).
OPENAI_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 7,
    "cached_tokens": 4,
    "cache_write_tokens": 1,
    "reasoning_tokens": 2,
}
# Anthropic usage: input excludes the cache (as the API reports it).
ANTHROPIC_USAGE = {
    "input_tokens": 10,
    "output_tokens": 9,
    "cache_read_input_tokens": 5,
    "cache_creation_input_tokens": 3,
}
EMBEDDING_TOKENS = 5


_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    """A response id unique within this process, as providers give every response its own."""
    return f"{prefix}{next(_ids)}"


def chat_completion(model: str, response_id: str = "") -> dict[str, Any]:
    u = OPENAI_USAGE
    return {
        "id": response_id or next_id("chatcmpl-"),
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": ANSWER, "refusal": None},
            }
        ],
        "usage": {
            "prompt_tokens": u["prompt_tokens"],
            "completion_tokens": u["completion_tokens"],
            "total_tokens": u["prompt_tokens"] + u["completion_tokens"],
            "prompt_tokens_details": {
                "cached_tokens": u["cached_tokens"],
                "cache_write_tokens": u["cache_write_tokens"],
            },
            "completion_tokens_details": {"reasoning_tokens": u["reasoning_tokens"]},
        },
        "system_fingerprint": "fp_fake",
    }


def responses_object(model: str, response_id: str = "") -> dict[str, Any]:
    u = OPENAI_USAGE
    return {
        "id": response_id or next_id("resp_"),
        "object": "response",
        "created_at": 1_700_000_000,
        "model": model,
        "status": "completed",
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": ANSWER, "annotations": []}],
            }
        ],
        "usage": {
            "input_tokens": u["prompt_tokens"],
            "output_tokens": u["completion_tokens"],
            "total_tokens": u["prompt_tokens"] + u["completion_tokens"],
            "input_tokens_details": {
                "cached_tokens": u["cached_tokens"],
                "cache_write_tokens": u["cache_write_tokens"],
            },
            "output_tokens_details": {"reasoning_tokens": u["reasoning_tokens"]},
        },
    }


def anthropic_message(model: str, response_id: str = "") -> dict[str, Any]:
    return {
        "id": response_id or next_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": ANSWER}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": dict(ANTHROPIC_USAGE),
    }


class FakeProviders:
    def __init__(self, chunk_delay_s: float = 0.0) -> None:
        self.chunk_delay_s = chunk_delay_s
        self.serve_as: dict[str, str] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._fail: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._fail.extend([status] * times)

    def start(self) -> FakeProviders:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake._handle(self, self.path.split("?", 1)[0], json.loads(raw or b"{}"))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling -------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, path: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append((path, body))
            status = self._fail.pop(0) if self._fail else None
        if status is not None:
            error = {"type": "error", "error": {"type": "api_error", "message": "injected failure"}}
            return self._json(h, error, status)
        model = self.serve_as.get(body.get("model", ""), body.get("model", "unknown"))
        stream = bool(body.get("stream"))
        if path == "/v1/chat/completions":
            if stream:
                include = bool((body.get("stream_options") or {}).get("include_usage"))
                return self._sse(h, self._chat_events(model, include))
            return self._json(h, chat_completion(model))
        if path == "/v1/responses":
            if stream:
                return self._sse(h, self._responses_events(model))
            return self._json(h, responses_object(model))
        if path == "/v1/embeddings":
            return self._json(
                h,
                {
                    "object": "list",
                    "model": model,
                    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                    "usage": {"prompt_tokens": EMBEDDING_TOKENS, "total_tokens": EMBEDDING_TOKENS},
                },
            )
        if path == "/v1/completions":
            out = chat_completion(model)
            out.update(
                object="text_completion",
                choices=[{"index": 0, "text": ANSWER, "finish_reason": "length", "logprobs": None}],
            )
            return self._json(h, out)
        if path == "/v1/messages":
            if stream:
                return self._sse(h, self._anthropic_events(model))
            return self._json(h, anthropic_message(model))
        return self._json(h, {"error": {"message": "not found"}}, 404)

    def _json(self, h: BaseHTTPRequestHandler, payload: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _sse(self, h: BaseHTTPRequestHandler, events: list[tuple[str | None, str]]) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        try:
            for event, data in events:
                if self.chunk_delay_s:
                    time.sleep(self.chunk_delay_s)
                line = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
                h.wfile.write(line.encode())
                h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (a stream closed early): nothing left to send

    def _chat_events(self, model: str, include_usage: bool) -> list[tuple[str | None, str]]:
        base = {
            "id": next_id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
        }
        out: list[tuple[str | None, str]] = []
        for i, text in enumerate(CHUNKS):
            delta = {"content": text, **({"role": "assistant"} if i == 0 else {})}
            out.append(
                (None, json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
            )
        out.append(
            (None, json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        )
        if include_usage:
            usage = chat_completion(model, base["id"])["usage"]
            out.append((None, json.dumps({**base, "choices": [], "usage": usage})))
        out.append((None, "[DONE]"))
        return out

    def _responses_events(self, model: str) -> list[tuple[str | None, str]]:
        # The event sequence of the real API (the client's .stream() helper checks it).
        done = responses_object(model)
        created = {**done, "status": "in_progress", "output": [], "usage": None}
        message = done["output"][0]
        where = {"item_id": message["id"], "output_index": 0, "content_index": 0}
        events: list[tuple[str, dict[str, Any]]] = [
            ("response.created", {"response": created}),
            ("response.in_progress", {"response": created}),
            (
                "response.output_item.added",
                {"output_index": 0, "item": {**message, "status": "in_progress", "content": []}},
            ),
            (
                "response.content_part.added",
                {**where, "part": {"type": "output_text", "text": "", "annotations": []}},
            ),
        ]
        events += [("response.output_text.delta", {**where, "delta": t, "logprobs": []}) for t in CHUNKS]
        events += [
            ("response.output_text.done", {**where, "text": ANSWER, "logprobs": []}),
            ("response.content_part.done", {**where, "part": message["content"][0]}),
            ("response.output_item.done", {"output_index": 0, "item": message}),
            ("response.completed", {"response": done}),
        ]
        return [
            (name, json.dumps({"type": name, "sequence_number": i, **data}))
            for i, (name, data) in enumerate(events)
        ]

    def _anthropic_events(self, model: str) -> list[tuple[str | None, str]]:
        start = anthropic_message(model)
        start.update(content=[], stop_reason=None, usage={**ANTHROPIC_USAGE, "output_tokens": 1})
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"message": start}),
            ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ]
        events += [
            ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": t}}) for t in CHUNKS
        ]
        events += [
            ("content_block_stop", {"index": 0}),
            (
                "message_delta",
                {
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]},
                },
            ),
            ("message_stop", {}),
        ]
        return [(name, json.dumps({"type": name, **data})) for name, data in events]
