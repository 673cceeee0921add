"""Acceptance criteria: is the candidate's answer as good as the production answer for this request?

Each judge returns a ``Verdict`` with its reason; ``judge_all`` combines them (``all``: every judge must
pass, cheapest first, stopping at the first failure so an LLM judge is not paid for a sample already
failed; ``any``: one pass is enough). Judges:

- ``exact``: the same text; ``normalized``: the same after Unicode NFKC, case folding, collapsing
  whitespace and dropping surrounding punctuation;
- ``regex``: the pattern is found in the candidate's answer;
- ``json_schema``: the answer (inside a Markdown code fence or not) is JSON valid against the schema;
- ``keywords``: every word appears (case-insensitive);
- ``numeric``: the numbers in both answers agree pairwise within a relative tolerance;
- ``llm``: a model compares the two answers against a rubric. Position bias is controlled by asking
  twice, with the answers in both orders; the candidate passes only when it is judged at least as good
  in both (an inconsistent pair fails, and says so);
- ``python``: the team's own ``module:function(candidate, production, request)`` returning a bool, a
  (bool, reason) pair or a score in [0, 1] (>= 0.5 passes); only modules the operator lists in
  ``TIERMIX_REPLAY_PYTHON_JUDGES`` may be named (an admin key must not import arbitrary code).
"""

from __future__ import annotations

import importlib
import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tiermix_server.errors import BadRequest
from tiermix_server.replay.candidates import Completion
from tiermix_server.replay.spec import JudgeSpec

_COST_ORDER = {"exact": 0, "normalized": 0, "regex": 1, "keywords": 1, "numeric": 1, "json_schema": 2}
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_VERDICT = re.compile(r'"verdict"\s*:\s*"(A|B|tie)"', re.IGNORECASE)

# An LLM judge's call: (model, messages) -> Completion, with its cost; supplied by the run (runs.py).
JudgeCall = Callable[[JudgeSpec, list[dict[str, str]]], tuple[Completion, float]]


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool | None  # None: no verdict (the judge could not decide: a broken reply, a failing hook)
    reason: str
    cost_usd: float = 0.0


class JudgeError(Exception):
    """The judge could not reach a verdict (its model failed, its hook raised)."""


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.split()).strip(" .,!?;:'\"`")


def load_python_judge(function: str, allowed: frozenset[str]) -> Callable[..., Any]:
    module_name, _, attr = function.partition(":")
    if not any(module_name == a or module_name.startswith(a + ".") for a in allowed):
        raise BadRequest(
            f"python judge {function!r}: module {module_name!r} is not allowed on this server "
            "(the operator lists allowed modules in TIERMIX_REPLAY_PYTHON_JUDGES)"
        )
    try:
        hook = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise BadRequest(f"python judge {function!r} cannot be imported: {exc}") from exc
    if not callable(hook):
        raise BadRequest(f"python judge {function!r} is not callable")
    return hook


class Judges:
    """The run's judges, ready to apply; built once per run (python hooks imported, schemas compiled)."""

    def __init__(
        self,
        specs: tuple[JudgeSpec, ...],
        mode: str,
        llm_call: JudgeCall | None,
        python_allowed: frozenset[str],
    ) -> None:
        self.specs = tuple(sorted(specs, key=lambda j: _COST_ORDER.get(j.kind, 3)))
        self.mode = mode
        self._llm_call = llm_call
        self._hooks = {
            j.function: load_python_judge(j.function, python_allowed) for j in specs if j.kind == "python"
        }
        self._schemas: dict[int, Any] = {}
        for index, spec in enumerate(self.specs):
            if spec.kind == "json_schema":
                from jsonschema import Draft202012Validator

                self._schemas[index] = Draft202012Validator(spec.schema or {})

    def judge(
        self, candidate: str, production: str, request: dict[str, Any]
    ) -> tuple[bool | None, list[str], float]:
        """(servable, reasons, judge cost). None: no verdict (every judge that decided was inconclusive)."""
        reasons: list[str] = []
        cost = 0.0
        decided: list[bool] = []
        for index, spec in enumerate(self.specs):
            try:
                verdict = self._one(index, spec, candidate, production, request)
            except JudgeError as exc:
                verdict = Verdict(None, f"no verdict: {exc}")
            cost += verdict.cost_usd
            outcome = "?" if verdict.passed is None else "pass" if verdict.passed else "fail"
            reasons.append(f"{spec.kind}: {outcome} ({verdict.reason})")
            if verdict.passed is None:
                if self.mode == "all":
                    return None, reasons, cost
                continue
            decided.append(verdict.passed)
            if self.mode == "all" and not verdict.passed:
                return False, reasons, cost
            if self.mode == "any" and verdict.passed:
                return True, reasons, cost
        if not decided:
            return None, reasons, cost
        return (all(decided) if self.mode == "all" else any(decided)), reasons, cost

    def _one(
        self, index: int, spec: JudgeSpec, candidate: str, production: str, request: dict[str, Any]
    ) -> Verdict:
        kind = spec.kind
        if kind == "exact":
            same = candidate == production
            return Verdict(same, "identical" if same else "texts differ")
        if kind == "normalized":
            same = normalize(candidate) == normalize(production)
            return Verdict(same, "same after normalising" if same else "texts differ after normalising")
        if kind == "regex":
            found = re.search(spec.pattern, candidate) is not None
            return Verdict(found, "pattern found" if found else "pattern not found")
        if kind == "keywords":
            folded = candidate.casefold()
            missing = [w for w in spec.words if w.casefold() not in folded]
            return Verdict(
                not missing, "all keywords present" if not missing else f"missing: {', '.join(missing)}"
            )
        if kind == "numeric":
            return _numeric(candidate, production, spec.tolerance)
        if kind == "json_schema":
            return _json_schema(self._schemas[index], candidate)
        if kind == "python":
            return _python(self._hooks[spec.function], candidate, production, request)
        if kind == "llm":
            if self._llm_call is None:
                raise JudgeError("no LLM judge client")
            return _llm(self._llm_call, spec, candidate, production, request)
        raise JudgeError(f"unknown judge {kind}")


def _numeric(candidate: str, production: str, tolerance: float) -> Verdict:
    want = [_to_float(n) for n in _NUMBER.findall(production)]
    got = [_to_float(n) for n in _NUMBER.findall(candidate)]
    if not want:
        return Verdict(None, "no number in the production answer")
    if len(got) != len(want):
        return Verdict(False, f"{len(got)} number(s), production has {len(want)}")
    for w, g in zip(want, got, strict=True):
        if not math.isclose(g, w, rel_tol=tolerance, abs_tol=tolerance if w == 0 else 0.0):
            return Verdict(False, f"{g:g} vs {w:g} beyond tolerance {tolerance:g}")
    return Verdict(True, f"{len(want)} number(s) within tolerance {tolerance:g}")


def _to_float(text: str) -> float:
    return float(text.replace(",", ""))


def _json_schema(validator: Any, candidate: str) -> Verdict:
    fenced = _FENCE.match(candidate)
    text = fenced.group(1) if fenced else candidate
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return Verdict(False, f"not JSON: {exc.msg} at {exc.pos}")
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(root)"
        return Verdict(False, f"schema: {where}: {first.message[:200]}")
    return Verdict(True, "valid JSON for the schema")


def _python(hook: Callable[..., Any], candidate: str, production: str, request: dict[str, Any]) -> Verdict:
    try:
        result = hook(candidate, production, request)
    except Exception as exc:
        raise JudgeError(f"the hook raised {type(exc).__name__}: {str(exc)[:200]}") from exc
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], bool):
        return Verdict(result[0], str(result[1])[:500])
    if isinstance(result, bool):
        return Verdict(result, "hook says " + ("yes" if result else "no"))
    if isinstance(result, int | float) and math.isfinite(result):
        return Verdict(result >= 0.5, f"score {result:g}")
    raise JudgeError(f"the hook returned {type(result).__name__}, not a bool, (bool, reason) or a score")


LLM_JUDGE_SYSTEM = (
    "You are an impartial judge. Two answers, A and B, were given to the same request. Decide which "
    "answer better satisfies the request and the rubric, or whether they are equally acceptable. Judge "
    "substance, not length or style, and ignore the order in which the answers are shown. Reply with one "
    'JSON object and nothing else: {"verdict": "A" | "B" | "tie", "reason": "<one sentence>"}.'
)


def judge_messages(rubric: str, request: dict[str, Any], first: str, second: str) -> list[dict[str, str]]:
    conversation = "\n".join(f"[{m['role']}] {m['content']}" for m in request.get("messages", []))
    user = (
        f"Rubric: {rubric or 'the answer is correct, complete and follows the instructions.'}\n\n"
        f"Request:\n{conversation}\n\nAnswer A:\n{first}\n\nAnswer B:\n{second}"
    )
    return [{"role": "system", "content": LLM_JUDGE_SYSTEM}, {"role": "user", "content": user}]


def _llm(
    call: JudgeCall, spec: JudgeSpec, candidate: str, production: str, request: dict[str, Any]
) -> Verdict:
    cost = 0.0
    outcomes = []
    # (candidate's letter in this order, messages): production first, then candidate first
    for letter, first, second in (("B", production, candidate), ("A", candidate, production)):
        completion, call_cost = call(spec, judge_messages(spec.rubric, request, first, second))
        cost += call_cost
        verdict = _parse_verdict(completion.text)
        if verdict is None:
            return Verdict(None, f"unreadable judge reply: {completion.text[:120]!r}", cost)
        outcomes.append("candidate" if verdict == letter else "tie" if verdict == "tie" else "production")
    order = f"production first: {outcomes[0]}; candidate first: {outcomes[1]}"
    if "production" not in outcomes:
        return Verdict(True, f"at least as good in both orders ({order})", cost)
    if outcomes.count("production") == 2:
        return Verdict(False, f"worse in both orders ({order})", cost)
    return Verdict(False, f"inconsistent across positions, counted as a failure ({order})", cost)


def _parse_verdict(text: str) -> str | None:
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    try:
        value = json.loads(body)
        verdict = value.get("verdict") if isinstance(value, dict) else None
    except ValueError:
        found = _VERDICT.search(body)
        verdict = found.group(1) if found else None
    if not isinstance(verdict, str):
        return None
    verdict = verdict.strip()
    if verdict.lower() == "tie":
        return "tie"
    return verdict.upper() if verdict.upper() in ("A", "B") else None
