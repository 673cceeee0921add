"""Every snippet in the README works as printed.

Python snippets run unchanged in a fresh interpreter, against a real collector (in this process) and a
local fake of the OpenAI and Anthropic APIs (the only fake: the provider); the calls they record must
reach the query API. Shell snippets are checked against the CLI parser and the API routes, so a renamed
flag or route fails here before it fails a reader.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.providers import FakeProviders
from tests.support.server import running_server
from tiermix_server.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def readme_blocks(language: str) -> list[str]:
    return [body for lang, body in _BLOCK.findall(README.read_text()) if lang == language]


PYTHON_SNIPPETS = readme_blocks("python")


@pytest.fixture(scope="module")
def providers() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    try:
        yield fake
    finally:
        fake.stop()


def summary(base_url: str, **params: str) -> dict[str, Any]:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    with urllib.request.urlopen(f"{base_url}/api/v1/summary?{query}", timeout=10) as response:
        result: dict[str, Any] = json.load(response)
        return result


def test_the_readme_has_the_snippets_this_test_expects() -> None:
    assert len(PYTHON_SNIPPETS) == 4
    assert any("tiermix up" in block for block in readme_blocks("bash"))


# What each snippet, in README order, must leave in the query API: (route, calls, requests, escalations).
EXPECTED = [
    ("support.answer", 1, 1, 0),
    ("docs.summarize", 1, 1, 0),
    ("support.answer", 2, 1, 1),  # the fake answers "Hello world": the verifier escalates once
    ("extract.invoice", 1, 1, 0),
]


@pytest.mark.parametrize(("index", "expected"), list(enumerate(EXPECTED)))
def test_python_snippet_runs_and_its_calls_reach_the_api(
    index: int, expected: tuple[str, int, int, int], settings: Any, providers: FakeProviders, tmp_path: Path
) -> None:
    route, calls, requests, escalations = expected
    script = tmp_path / f"snippet_{index}.py"
    script.write_text(PYTHON_SNIPPETS[index])
    with running_server(settings) as base_url:
        env = {
            **os.environ,
            "TIERMIX_ENDPOINT": base_url,
            "OPENAI_BASE_URL": providers.openai_base_url,
            "OPENAI_API_KEY": "test-key",
            "ANTHROPIC_BASE_URL": providers.anthropic_base_url,
            "ANTHROPIC_API_KEY": "test-key",
        }
        result = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        figures = summary(base_url, tenant="acme", route=route)
    assert figures["calls"] == calls
    assert figures["requests"] == requests
    assert figures["escalations"] == escalations
    assert figures["unpriced_calls"] == 0 or route == "extract.invoice"


def shell_commands() -> list[list[str]]:
    """The ``tiermix ...`` commands of the README's bash blocks, as argument lists."""
    commands = []
    for block in readme_blocks("bash"):
        for logical_line in _logical_lines(block):
            for part in re.split(r"&&|\||;", logical_line):
                words = shlex.split(part.replace("$(", " ").replace(")", " "), comments=True)
                while words and re.fullmatch(r"[A-Z_]+=", words[0]):  # KEY=$(tiermix ...)
                    words = words[1:]
                if words and words[0] == "tiermix":
                    commands.append(words[1:])
    return commands


def _logical_lines(block: str) -> list[str]:
    """Join continuation lines: a trailing backslash, or a quote left open until a later line."""
    lines: list[str] = []
    pending = ""
    for line in block.splitlines():
        pending = f"{pending} {line.rstrip(chr(92))}" if pending else line.rstrip(chr(92))
        if line.endswith(chr(92)) or pending.count("'") % 2:
            continue
        lines.append(pending)
        pending = ""
    return lines


def test_every_tiermix_command_in_the_readme_parses() -> None:
    commands = shell_commands()
    assert {words[0] for words in commands} >= {"up", "alerts", "keys", "prices", "tiers"}
    parser = build_parser()
    for words in commands:
        parser.parse_args(words)  # SystemExit on an unknown flag or command


def test_the_readme_alert_rule_is_accepted_by_the_rule_model() -> None:
    from tiermix_server.alerts.rules import parse_rule

    (create,) = [words for words in shell_commands() if words[:2] == ["alerts", "create"]]
    rule = parse_rule(json.loads(create[create.index("--json") + 1]))
    assert rule.metric == "frontier_share"


def test_every_api_path_in_the_readme_exists(settings: Any) -> None:
    paths = re.findall(r"http://127\.0\.0\.1:4318(/api/v1/[a-z/]+)", README.read_text())
    assert paths
    with running_server(settings) as base_url:
        for path in paths:
            try:
                with urllib.request.urlopen(f"{base_url}{path}", timeout=10) as response:
                    assert response.status == 200, path
            except urllib.error.HTTPError as exc:
                # routed, and asking for what it needs (the what-if is about one route)
                assert exc.code == 400 and "is required" in exc.read().decode(), path
