"""A replay run survives the collector's restart: resumed where it stopped, no sample judged twice.

The server is stopped in the middle of a paced run (``rate_per_s``), then started again on the same
databases. The quiz provider outlives both, so its request counter is the proof: the candidate was
asked exactly once per sample, and ``replay_samples`` holds one row per sample (no duplicate rows to
be merged away later).
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.quiz_provider import QuizProvider
from tests.integration.replay.harness import ReplayStack
from tests.support.server import running_server

CANDIDATE = ("/v1/chat/completions", "gpt-4o-mini")


def _captured(stack: ReplayStack, questions: int) -> None:
    stack.ok("PUT", "/api/v1/capture/policies", {"tenant": "acme", "route": "quiz", "sample_rate": 1.0})
    assert stack.send_traffic(questions, "--split", "5") == questions
    stack.wait_captured(questions)


def _wait_judged(stack: ReplayStack, run_id: int, judged: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = stack.ok("GET", f"/api/v1/replays/{run_id}")
        if run["progress"]["judged"] >= judged:
            return dict(run)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never judged {judged}")


def _stored_rows(settings: Any, run_id: int) -> tuple[int, int]:
    from tiermix_server.store.clickhouse import connect

    rows = connect(settings).query(
        "SELECT count(), uniqExact(span_id) FROM replay_samples WHERE run_id = {r:UInt64}",
        parameters={"r": run_id},
    )
    count, distinct = rows.result_rows[0]
    return int(count), int(distinct)


def test_a_restart_resumes_the_run_without_judging_a_sample_twice(make_settings: Any) -> None:
    settings = make_settings()
    with QuizProvider() as quiz:
        with running_server(settings) as url:
            stack = ReplayStack(url, quiz, settings)
            _captured(stack, 100)  # 50 on the top tier
            run = stack.replay(sample=50, seed=3, concurrency=2, rate_per_s=20)
            _wait_judged(stack, run["id"], 10)
        asked_before = quiz.requests[CANDIDATE]
        with running_server(settings) as url:
            stack = ReplayStack(url, quiz, settings)
            stopped = stack.ok("GET", f"/api/v1/replays/{run['id']}")
            assert stopped["progress"]["judged"] >= 10
            done = stack.wait(run["id"])
        assert asked_before < 50, "the first server was stopped in the middle of the run"
        assert done["status"] == "done", done
        assert done["progress"]["judged"] == 50 and done["progress"]["planned"] == 50
        assert quiz.requests[CANDIDATE] == 50, "a sample was replayed twice"
        assert _stored_rows(settings, run["id"]) == (50, 50)
        assert done["result"]["servable"]["judged"] == 50
        assert done["progress"]["spent_usd"] == done["result"]["replay_cost_usd"]["total"]


def test_a_run_started_with_a_key_waits_for_the_key_after_a_restart(make_settings: Any) -> None:
    settings = make_settings()
    with QuizProvider() as quiz:
        with running_server(settings) as url:
            stack = ReplayStack(url, quiz, settings)
            _captured(stack, 40)
            run = stack.replay(sample=20, seed=1, concurrency=1, rate_per_s=20, api_key="sk-run-only")
            _wait_judged(stack, run["id"], 3)
        with running_server(settings) as url:
            stack = ReplayStack(url, quiz, settings)
            waiting = stack.ok("GET", f"/api/v1/replays/{run['id']}")
            assert waiting["status"] == "interrupted"
            assert "resume it with the key" in waiting["error"]
            assert "sk-run-only" not in str(waiting)
            status, refused = stack.call("POST", f"/api/v1/replays/{run['id']}/resume", {})
            assert status == 409 and "send it again" in refused["error"]["message"]
            stack.ok("POST", f"/api/v1/replays/{run['id']}/resume", {"api_key": "sk-run-only"})
            done = stack.wait(run["id"])
        assert done["status"] == "done" and done["progress"]["judged"] == 20
        assert quiz.requests[CANDIDATE] == 20
        assert quiz.keys_seen == {"test", "sk-run-only"}  # the application's key and the run's


def test_cancel_stops_a_running_run_and_it_does_not_come_back(make_settings: Any) -> None:
    settings = make_settings()
    with QuizProvider() as quiz:
        with running_server(settings) as url:
            stack = ReplayStack(url, quiz, settings)
            _captured(stack, 40)
            run = stack.replay(sample=20, seed=2, concurrency=1, rate_per_s=10)
            _wait_judged(stack, run["id"], 2)
            cancelled = stack.ok("POST", f"/api/v1/replays/{run['id']}/cancel")
            assert cancelled["status"] == "cancelled"
            judged = cancelled["progress"]["judged"]
        asked = quiz.requests[CANDIDATE]
        with running_server(settings) as url:
            stack = ReplayStack(url, quiz, settings)
            time.sleep(1.0)
            again = stack.ok("GET", f"/api/v1/replays/{run['id']}")
        assert again["status"] == "cancelled" and again["progress"]["judged"] == judged < 20
        assert quiz.requests[CANDIDATE] == asked
        assert _stored_rows(settings, run["id"]) == (judged, judged)
