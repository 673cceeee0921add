"""Acceptance criteria, one by one and combined (replay/judges.py): each verdict carries its reason."""

from __future__ import annotations

from typing import Any

import pytest

from tiermix_server.errors import BadRequest
from tiermix_server.replay.candidates import Completion
from tiermix_server.replay.judges import Judges, normalize
from tiermix_server.replay.spec import JudgeSpec, ModelRef, parse_judge

REQUEST = {"messages": [{"role": "user", "content": "What is 2 + 2?"}], "params": {}}


def verdict(judges: list[Any], candidate: str, production: str, mode: str = "all", **kw: Any) -> Any:
    specs = tuple(parse_judge(j) for j in judges)
    return Judges(specs, mode, kw.get("llm"), kw.get("allowed", frozenset())).judge(
        candidate, production, REQUEST
    )


@pytest.mark.parametrize(
    ("judge", "candidate", "production", "passed"),
    [
        ("exact", "The answer is 4.", "The answer is 4.", True),
        ("exact", "the answer is 4", "The answer is 4.", False),
        ("normalized", "  the ANSWER is 4 ", "The answer is 4.", True),
        ("normalized", "The answer is 5.", "The answer is 4.", False),
        ("regex:^The answer is \\d+\\.$", "The answer is 4.", "", True),
        ("regex:^The answer is \\d+\\.$", "It is 4.", "", False),
        ("keywords:refund,30 days", "A REFUND within 30 days.", "", True),
        ("keywords:refund,30 days", "A refund.", "", False),
        ("numeric:0.01", "Total: 1,000.5 USD and 3", "1000 and 3.01", True),
        ("numeric:0", "4.0", "4", True),
        ("numeric:0", "5", "4", False),
        ("numeric:0", "4 and 5", "4", False),
        ("json", '```json\n{"a": 1}\n```', "", True),
        ("json", "{a: 1}", "", False),
        ('json_schema:{"type": "object", "required": ["a"]}', '{"b": 2}', "", False),
        ('json_schema:{"type": "object", "required": ["a"]}', '{"a": 2}', "", True),
    ],
)
def test_each_cheap_judge(judge: str, candidate: str, production: str, passed: bool) -> None:
    servable, reasons, cost = verdict([judge], candidate, production)
    assert servable is passed, reasons
    assert len(reasons) == 1 and reasons[0].startswith(parse_judge(judge).kind + ": ")
    assert cost == 0.0


def test_a_numeric_judge_without_a_number_in_production_gives_no_verdict() -> None:
    servable, reasons, _ = verdict(["numeric:0"], "4", "four")
    assert servable is None and "no number" in reasons[0]


def test_all_stops_at_the_first_failure_cheapest_first_and_any_at_the_first_pass() -> None:
    calls: list[Any] = []

    def llm(spec: JudgeSpec, messages: list[dict[str, str]]) -> tuple[Completion, float]:
        calls.append(messages)
        return Completion('{"verdict": "tie", "reason": "same"}', 10, 2, "judge", 1.0, 0, 0), 0.001

    judge = {"kind": "llm", "model": "openai:gpt-4.1"}
    servable, reasons, cost = verdict([judge, "exact"], "5", "4", llm=llm)
    assert servable is False and [r.split(":")[0] for r in reasons] == ["exact"] and calls == []
    servable, reasons, cost = verdict([judge, "exact"], "4", "4", llm=llm)
    assert servable is True and len(calls) == 2 and cost == pytest.approx(0.002)
    servable, reasons, _ = verdict(["exact", "regex:^5$"], "5", "4", mode="any")
    assert servable is True and len(reasons) == 2


def _judge_saying(*answers: str) -> Any:
    replies = iter(answers)

    def llm(spec: JudgeSpec, messages: list[dict[str, str]]) -> tuple[Completion, float]:
        return Completion(next(replies), 10, 2, "judge", 1.0, 0, 0), 0.0

    return llm


@pytest.mark.parametrize(
    ("replies", "passed", "why"),
    [
        (('{"verdict": "B"}', '{"verdict": "A"}'), True, "at least as good in both orders"),
        (('{"verdict": "tie"}', '```json\n{"verdict": "A"}\n```'), True, "at least as good"),
        (('{"verdict": "A"}', '{"verdict": "B"}'), False, "worse in both orders"),
        (('{"verdict": "A"}', '{"verdict": "A"}'), False, "inconsistent across positions"),
        (("verdict: maybe", '{"verdict": "A"}'), None, "unreadable judge reply"),
    ],
)
def test_the_llm_judge_asks_in_both_orders(replies: tuple[str, str], passed: bool | None, why: str) -> None:
    """First production as A (the candidate is B), then the candidate as A."""
    judge = {"kind": "llm", "model": "openai:gpt-4.1"}
    servable, reasons, _ = verdict([judge], "4", "4", llm=_judge_saying(*replies))
    assert servable is passed and why in reasons[0], reasons


def test_python_judges_come_only_from_allowed_modules_and_their_answers_are_read() -> None:
    with pytest.raises(BadRequest, match="not allowed"):
        verdict(["python:tests.unit.replay.hooks:always"], "4", "4")
    allowed = frozenset({"tests.unit.replay"})
    assert verdict(["python:tests.unit.replay.hooks:always"], "4", "4", allowed=allowed)[0] is True
    servable, reasons, _ = verdict(["python:tests.unit.replay.hooks:score"], "44", "4", allowed=allowed)
    assert servable is False and "score 0.25" in reasons[0]
    servable, reasons, _ = verdict(["python:tests.unit.replay.hooks:broken"], "4", "4", allowed=allowed)
    assert servable is None and "raised ZeroDivisionError" in reasons[0]
    with pytest.raises(BadRequest, match="cannot be imported"):
        verdict(["python:tests.unit.replay.hooks:missing"], "4", "4", allowed=allowed)


def test_normalize_folds_case_width_and_space() -> None:
    assert normalize("  \uff34\uff48\uff45  ANSWER\nis 4!! ") == "the answer is 4"  # fullwidth "The"


@pytest.mark.parametrize(
    ("judge", "message"),
    [
        ("regex:(", "regex judge"),
        ("regex:", "needs a pattern"),
        ("keywords:", "needs words"),
        ("numeric:abc", "not a number"),
        ('json_schema:{"type": 5}', "invalid schema"),
        ("json_schema:{", "not JSON"),
        ("llm:mistral:large", "is not one of openai, anthropic"),
        ("python:os.system", "module:function"),
        ("vibes", "judge kind must be one of"),
    ],
)
def test_a_bad_judge_is_refused_with_the_reason(judge: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_judge(judge)


def test_a_model_ref_keeps_its_base_url_and_label() -> None:
    spec = parse_judge({"kind": "llm", "model": "openai:gpt-4.1", "base_url": "http://judge:8000/v1/"})
    assert spec.model == ModelRef("openai", "gpt-4.1", "http://judge:8000/v1")
    assert spec.model.label == "openai:gpt-4.1"
