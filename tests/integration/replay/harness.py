"""A real collector, the quiz provider (tests/fakes/quiz_provider.py) and an application sending to it.

``ReplayStack`` starts the server on its own database, sets a capture policy, and sends production
traffic from a separate process through the real anthropic / openai clients instrumented by tiermix
(tests/support/quiz_traffic.py). ``call`` speaks JSON to the API; ``wait`` follows a run to its end.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from tests.fakes.quiz_provider import QuizProvider
from tests.support.server import running_server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
STOPPED = ("done", "capped", "cancelled", "failed", "interrupted")


class ReplayStack:
    def __init__(self, url: str, quiz: QuizProvider, settings: Any) -> None:
        self.url = url
        self.quiz = quiz
        self.settings = settings
        self.key: str | None = None

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        headers = {"content-type": "application/json"}
        key = key or self.key
        if key:
            headers["authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            text = exc.read()
            return exc.code, json.loads(text) if text else {}

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self.call(method, path, body)
        assert 200 <= status < 300, (status, payload)
        return payload

    def send_traffic(self, questions: int, *extra: str) -> int:
        out = subprocess.run(
            [sys.executable, "-m", "tests.support.quiz_traffic", "--endpoint", self.url, "--provider",
             self.quiz.base_url, "--questions", str(questions), *extra],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "sdk")])},
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        return int(out.stdout.strip().splitlines()[-1])

    def wait_captured(self, count: int, tenant: str = "acme", timeout_s: float = 30.0) -> None:
        from tiermix_server.store.clickhouse import connect

        client = connect(self.settings)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = client.query(
                "SELECT count() FROM replay_captures FINAL WHERE tenant = {t:String}",
                parameters={"t": tenant},
            ).result_rows[0][0]
            if found >= count:
                return
            time.sleep(0.2)
        raise AssertionError(f"{found} of {count} calls captured")

    def wait_calls(self, count: int, timeout_s: float = 30.0) -> None:
        """Until ``count`` calls are stored, and then their batch's captures (written right after them)."""
        from tiermix_server.store.clickhouse import connect

        client = connect(self.settings)
        deadline = time.monotonic() + timeout_s
        while client.query("SELECT count() FROM llm_calls").result_rows[0][0] < count:
            assert time.monotonic() < deadline, f"fewer than {count} calls stored"
            time.sleep(0.2)
        time.sleep(0.5)

    def replay(self, **body: Any) -> dict[str, Any]:
        defaults = {"tenant": "acme", "route": "quiz", "candidate": "openai:gpt-4o-mini",
                    "base_url": self.quiz.openai_base_url, "judges": ["normalized"],
                    "max_cost_usd": 1.0}  # fmt: skip
        body = {**defaults, **body}
        return dict(self.ok("POST", "/api/v1/replays", body))

    def wait(self, run_id: int, timeout_s: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.ok("GET", f"/api/v1/replays/{run_id}")
            if run["status"] in STOPPED:
                return dict(run)
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} still {run['status']} after {timeout_s}s")

    def samples(self, run_id: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.ok("GET", f"/api/v1/replays/{run_id}/samples?limit=500&offset={len(out)}")["samples"]
            out += page
            if len(page) < 500:
                return out


@contextlib.contextmanager
def replay_stack(make_settings: Any, **overrides: Any) -> Iterator[ReplayStack]:
    with QuizProvider() as quiz:
        settings = make_settings(**overrides)
        with running_server(settings) as url:
            stack = ReplayStack(url, quiz, settings)
            stack.ok(
                "PUT", "/api/v1/capture/policies", {"tenant": "acme", "route": "quiz", "sample_rate": 1.0}
            )
            yield stack


@contextlib.contextmanager
def keyed_stack(
    make_settings: Any, **keys: tuple[str, str | None]
) -> Iterator[tuple[ReplayStack, dict[str, str]]]:
    """A stack with API keys (``name=(scope, tenant)``): auth is on. The first key is the stack's own;
    the quiz provider is on 127.0.0.1, which tenant-scoped keys may reach only when allowed."""
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    settings = make_settings(channel_allow="127.0.0.1", ingest_workers=0)
    meta = open_meta(settings)
    made = {name: create_key(meta, scope=scope, tenant=tenant).key for name, (scope, tenant) in keys.items()}
    with QuizProvider() as quiz, running_server(settings) as url:
        stack = ReplayStack(url, quiz, settings)
        stack.key = next(iter(made.values()))
        yield stack, made


def question_of(sample: dict[str, Any]) -> int:
    request = json.loads(sample["request"])
    text = request["messages"][-1]["content"]
    return int(text.split()[1].rstrip(":"))
