"""``tiermix capture`` and ``tiermix replay`` as a user runs them, against the module's collector."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.integration.replay.harness import ROOT, ReplayStack


def tiermix(
    stack: ReplayStack, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    settings = stack.settings
    command = [sys.executable, "-m", "tiermix_server.cli", *args]
    environment = {**os.environ, "TIERMIX_DATA_DIR": str(settings.data_dir), **(env or {})}
    environment.pop("TIERMIX_API_KEY", None)
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip


def test_replay_run_shows_progress_and_quotes_the_result(stack: ReplayStack) -> None:
    out = tiermix(
        stack, "replay", "run", "--server", stack.url, "--tenant", "acme", "--route", "quiz",
        "--candidate", "openai:gpt-4o-mini", "--base-url", stack.quiz.openai_base_url, "--sample", "30",
        "--judge", "normalized", "--judge", "regex:^The answer is", "--max-cost", "0.5", "--seed", "31",
        "--candidate-key-env", "QUIZ_KEY", env={"QUIZ_KEY": "sk-from-env"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    progress = out.stderr.strip().splitlines()
    assert progress and re.search(r"\] 30/30 · \d+ servable \(\d+%\) · \$0\.\d{4} of \$0\.5", progress[-1])
    run_id = int(re.match(r"replay run (\d+):", out.stdout).group(1))  # type: ignore[union-attr]
    run = stack.ok("GET", f"/api/v1/replays/{run_id}")
    servable = run["result"]["servable"]
    assert f"servable by openai:gpt-4o-mini: {servable['share']:.1%}" in out.stdout
    assert f"(95% interval {servable['low']:.1%} to {servable['high']:.1%}) of 30 judged" in out.stdout
    assert "estimated saving if the servable share moves: $" in out.stdout
    assert "sk-from-env" in stack.quiz.keys_seen and "sk-from-env" not in str(run)

    shown = tiermix(stack, "replay", "show", str(run_id), "--samples", "5", "--server", stack.url)
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if line.startswith("- ")]
    assert len(lines) == 5 and all("normalized: " in line for line in lines)
    listed = tiermix(stack, "replay", "list", "--server", stack.url)
    assert re.search(
        rf"^\s*{run_id}\s+acme\s+quiz\s+openai:gpt-4o-mini\s+done\s+\d+/30$", listed.stdout, re.M
    )


def test_capture_commands_set_list_and_remove_a_policy(stack: ReplayStack) -> None:
    database = ["--clickhouse-url", stack.settings.clickhouse_url]
    env = {"TIERMIX_CLICKHOUSE_DATABASE": stack.settings.clickhouse_database}
    out = tiermix(stack, "capture", "set", "--tenant", "acme", "--route", "checkout", "--rate", "0.02",
                  *database, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    listed = tiermix(stack, "capture", "list", *database, env=env)
    assert re.search(r"acme\s+checkout\s+2\.00%", listed.stdout), listed.stdout
    assert re.search(r"acme\s+quiz\s+100\.00%", listed.stdout), listed.stdout
    bad = tiermix(
        stack, "capture", "set", "--tenant", "acme", "--route", "x", "--rate", "2", *database, env=env
    )
    assert bad.returncode != 0 and "sample_rate" in (bad.stderr + bad.stdout)
    removed = tiermix(
        stack, "capture", "remove", "--tenant", "acme", "--route", "checkout", *database, env=env
    )
    assert removed.returncode == 0, removed.stderr
    assert "checkout" not in tiermix(stack, "capture", "list", *database, env=env).stdout


def test_a_refused_run_is_a_clear_error(stack: ReplayStack) -> None:
    out = tiermix(stack, "replay", "run", "--server", stack.url, "--tenant", "acme", "--route", "quiz",
                  "--candidate", "mistral:small", "--max-cost", "1")  # fmt: skip
    assert out.returncode != 0 and "is not one of openai, anthropic" in out.stderr, out.stderr
    top = tiermix(stack, "replay", "run", "--server", stack.url, "--tenant", "acme", "--route", "quiz",
                  "--candidate", "anthropic:claude-opus-4", "--base-url", stack.quiz.base_url,
                  "--max-cost", "1")  # fmt: skip
    assert top.returncode == 1 and "top tier" in top.stdout + top.stderr, (top.stdout, top.stderr)
