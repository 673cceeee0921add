"""A fake OpenAI + Anthropic API that answers arithmetic questions, right or wrong by design.

For shadow-replay tests: the request's last user message is ``Question <n>: what is <a> + <b>?``.

- a **strong** model (any name without ``mini``/``haiku``/``small``) always answers ``The answer is <a+b>.``;
- a **weak** model answers right exactly when ``weak_knows(n)`` (default: ``n % 10 < 7``, so the true
  servable share over any set of questions is known), else ``The answer is <a+b+1>.``;
- asked to **judge** (the prompt holds ``Answer A:`` and ``Answer B:``), any model reads both answers
  and prefers the one holding the right sum (``tie`` when both or neither do), except a ``nano`` model,
  which always says ``A`` (position bias, for the test that swapping catches it);

Usage is fixed (``USAGE_IN`` / ``USAGE_OUT``). ``fail_next(status, n)`` answers the next n requests
with ``status`` (a ``Retry-After: 0`` header on 429); ``delay_next(seconds, n)`` holds the next n
requests (a client timeout). ``requests`` counts requests by (path, model); ``keys_seen`` holds the
API keys clients sent; ``started`` and ``most_in_flight`` show the pace and the concurrency.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.serving import serve, stop

USAGE_IN = 40
USAGE_OUT = 8
QUESTION = re.compile(r"Question (\d+): what is (\d+) \+ (\d+)\?")
ANSWER_OF = re.compile(r"Answer ([AB]):\n(.*?)(?=\n\nAnswer [AB]:|\Z)", re.DOTALL)


def question(n: int) -> str:
    return f"Question {n}: what is {n} + {2 * n + 1}?"


def right_answer(n: int) -> str:
    return f"The answer is {n + 2 * n + 1}."


def default_weak_knows(n: int) -> bool:
    return n % 10 < 7


class QuizProvider:
    def __init__(self, weak_knows: Callable[[int], bool] = default_weak_knows) -> None:
        self.weak_knows = weak_knows
        self.requests: Counter[tuple[str, str]] = Counter()
        self.keys_seen: set[str] = set()  # every API key a client sent (Bearer or x-api-key)
        self.started: list[float] = []  # monotonic time each request arrived
        self.in_flight = 0
        self.most_in_flight = 0
        self._faults: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([("status", float(status))] * times)

    def delay_next(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([("delay", seconds)] * times)

    def start(self) -> QuizProvider:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake._handle(self, self.path, body)

        self._server = serve(Handler)
        return self

    def stop(self) -> None:
        stop(self._server)

    def __enter__(self) -> QuizProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers -------------------------------------------------------------------------------------
    def answer(self, model: str, messages: list[dict[str, Any]]) -> str:
        text = _text(messages[-1].get("content")) if messages else ""
        if "Answer A:" in text and "Answer B:" in text:
            return self._judge(model, text)
        found = QUESTION.search(text)
        if found is None:
            return "I do not know."
        n, a, b = (int(g) for g in found.groups())
        weak = any(word in model for word in ("mini", "haiku", "small"))
        right = not weak or self.weak_knows(n)
        return f"The answer is {a + b if right else a + b + 1}."

    def _judge(self, model: str, prompt: str) -> str:
        if "nano" in model:
            return json.dumps({"verdict": "A", "reason": "A reads better"})
        found = QUESTION.search(prompt)
        answers = dict(ANSWER_OF.findall(prompt))
        if found is None or set(answers) != {"A", "B"}:
            return "no idea"
        n, a, b = (int(g) for g in found.groups())
        right = {k: str(a + b) in re.findall(r"\d+", v) for k, v in answers.items()}
        verdict = "tie" if right["A"] == right["B"] else ("A" if right["A"] else "B")
        return json.dumps({"verdict": verdict, "reason": f"question {n}"})

    def _handle(self, h: BaseHTTPRequestHandler, path: str, body: dict[str, Any]) -> None:
        model = str(body.get("model", ""))
        key = h.headers.get("x-api-key") or h.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            self.requests[(path, model)] += 1
            self.keys_seen.add(key)
            self.started.append(time.monotonic())
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            fault = self._faults.pop(0) if self._faults else None
        try:
            self._answer(h, path, model, body, fault)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(
        self, h: BaseHTTPRequestHandler, path: str, model: str, body: dict[str, Any], fault: Any
    ) -> None:
        if fault is not None and fault[0] == "delay":
            time.sleep(fault[1])
        elif fault is not None:
            status = int(fault[1])
            headers = {"retry-after": "0"} if status == 429 else {}
            kind = "rate_limit" if status == 429 else "server"
            self._json(h, {"error": {"type": kind, "message": "fault"}}, status, headers)
            return
        if path.endswith("/chat/completions"):
            text = self.answer(model, body.get("messages", []))
            self._json(h, {
                "id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": USAGE_IN, "completion_tokens": USAGE_OUT,
                          "total_tokens": USAGE_IN + USAGE_OUT},
            })  # fmt: skip
        elif path.endswith("/messages"):
            messages = list(body.get("messages", []))
            text = self.answer(model, messages)
            self._json(h, {
                "id": f"msg_{time.time_ns()}", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT},
            })  # fmt: skip
        else:
            self._json(h, {"error": {"message": f"no route {path}"}}, 404)

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, payload: dict[str, Any], status: int = 200,
              headers: dict[str, str] | None = None) -> None:  # fmt: skip
        data = json.dumps(payload).encode()
        try:
            h.send_response(status)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(data)))
            for key, value in (headers or {}).items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout test)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""
