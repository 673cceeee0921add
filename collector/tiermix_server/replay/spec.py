"""What a replay run is asked to do: the validated body of ``POST /api/v1/replays`` (docs/replay.md).

A run replays up to ``sample`` captured calls of one tenant's route — final, successful production
calls on a tier above the candidate's, chosen at random from the capture window — against the
candidate model, and judges each answer with the ``judges`` (all must pass, or any with
``judge_mode: any``). ``max_cost_usd`` is a hard cap on what the run spends (candidate and judge calls).

Credentials: a candidate or judge on its provider's own API uses the server's ``OPENAI_API_KEY`` /
``ANTHROPIC_API_KEY``; one on a ``base_url`` of its own (vLLM, Ollama, a LiteLLM proxy) gets the
``api_key`` sent with the request, if any. A key sent with the request lives in the server's memory for
the run only: never stored, never shown, and a restart needs it again (``tiermix replay resume``).
Server keys never go to a URL the request chose.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from tiermix_server.errors import BadRequest

PROVIDERS = ("openai", "anthropic")
JUDGE_KINDS = ("exact", "normalized", "regex", "json_schema", "keywords", "numeric", "llm", "python")
MAX_SAMPLE = 10_000
MAX_COST_USD = 10_000.0
DEFAULT_MAX_TOKENS = 1024  # Anthropic requires one; used when the captured request had none
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")


@dataclass(frozen=True, slots=True)
class ModelRef:
    provider: str  # the client library: openai (also any OpenAI-compatible server) or anthropic
    model: str
    base_url: str = ""  # "" = the provider's own API

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True, slots=True)
class JudgeSpec:
    kind: str
    pattern: str = ""  # regex
    schema: dict[str, Any] | None = None  # json_schema
    words: tuple[str, ...] = ()  # keywords
    tolerance: float = 0.0  # numeric: relative tolerance
    model: ModelRef | None = None  # llm
    rubric: str = ""  # llm
    function: str = ""  # python: module:function


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    tenant: str
    route: str
    candidate: ModelRef
    judges: tuple[JudgeSpec, ...]
    sample: int
    max_cost_usd: float
    judge_mode: str = "all"
    concurrency: int = 4
    rate_per_s: float | None = None  # candidate requests started per second, at most
    window_days: int | None = None  # captures of the last N days (default: all kept)
    max_retries: int = 4  # per request, on 429 / 5xx / timeouts
    timeout_s: float = 60.0
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def model_ref(value: Any, base_url: Any = "", what: str = "candidate") -> ModelRef:
    if not isinstance(value, str) or ":" not in value:
        raise BadRequest(
            f"{what} must be PROVIDER:MODEL, e.g. openai:gpt-4o-mini or anthropic:claude-3-5-haiku"
        )
    provider, model = value.split(":", 1)
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise BadRequest(
            f"{what} provider {provider!r} is not one of {', '.join(PROVIDERS)} "
            "(an OpenAI-compatible server is openai: with its base_url)"
        )
    if not _MODEL.match(model):
        raise BadRequest(f"{what} model {model!r} is not a model name")
    if base_url in (None, ""):
        return ModelRef(provider, model)
    if not isinstance(base_url, str) or not re.match(r"^https?://[^\s/]+", base_url) or len(base_url) > 500:
        raise BadRequest(f"{what} base_url must be an http(s) URL")
    return ModelRef(provider, model, base_url.rstrip("/"))


def parse_spec(body: Any, tenant: str) -> ReplaySpec:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    route = body.get("route")
    if not isinstance(route, str) or not route or len(route) > 200 or "\x00" in route:
        raise BadRequest("route is required (1 to 200 characters, no NUL)")
    candidate = model_ref(body.get("candidate"), body.get("base_url"))
    judges = tuple(parse_judge(j) for j in _list(body.get("judges", ["normalized"]), "judges"))
    if not judges:
        raise BadRequest("at least one judge is required")
    spec = ReplaySpec(
        tenant=tenant,
        route=route,
        candidate=candidate,
        judges=judges,
        sample=_int(body.get("sample", 100), "sample", 1, MAX_SAMPLE),
        max_cost_usd=_number(body.get("max_cost_usd"), "max_cost_usd", 0.0, MAX_COST_USD, required=True),
        judge_mode=_choice(body.get("judge_mode", "all"), "judge_mode", ("all", "any")),
        concurrency=_int(body.get("concurrency", 4), "concurrency", 1, 64),
        rate_per_s=(
            None
            if body.get("rate_per_s") is None
            else _number(body["rate_per_s"], "rate_per_s", 0.0, 10_000.0)
        ),
        window_days=None
        if body.get("window_days") is None
        else _int(body["window_days"], "window_days", 1, 365),
        max_retries=_int(body.get("max_retries", 4), "max_retries", 0, 20),
        timeout_s=_number(body.get("timeout_s", 60.0), "timeout_s", 0.0, 600.0),
        seed=_int(body.get("seed", 0), "seed", 0, 2**31 - 1),
    )
    return spec


def parse_judge(value: Any) -> JudgeSpec:
    """A judge from its object form (``{"kind": "regex", "pattern": "..."}``) or the CLI's text form."""
    if isinstance(value, str):
        value = judge_from_text(value)
    if not isinstance(value, dict):
        raise BadRequest("each judge is an object with a kind, or its text form (e.g. regex:^yes)")
    kind = _choice(value.get("kind"), "judge kind", JUDGE_KINDS)
    if kind == "regex":
        pattern = value.get("pattern")
        if not isinstance(pattern, str) or not pattern or len(pattern) > 2000:
            raise BadRequest("a regex judge needs a pattern (at most 2000 characters)")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadRequest(f"regex judge: {exc}") from exc
        return JudgeSpec(kind, pattern=pattern)
    if kind == "json_schema":
        schema = value.get("schema", {})
        if not isinstance(schema, dict):
            raise BadRequest("a json_schema judge's schema is a JSON object ({} = any valid JSON)")
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise BadRequest(f"json_schema judge: invalid schema: {exc.message}") from exc
        return JudgeSpec(kind, schema=schema)
    if kind == "keywords":
        words = value.get("words")
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words):
            raise BadRequest("a keywords judge needs words: a list of non-empty strings")
        return JudgeSpec(kind, words=tuple(words[:100]))
    if kind == "numeric":
        return JudgeSpec(kind, tolerance=_number(value.get("tolerance", 0.0), "numeric tolerance", -1.0, 1e9))
    if kind == "llm":
        model = model_ref(value.get("model"), value.get("base_url"), what="llm judge model")
        rubric = value.get("rubric", "")
        if not isinstance(rubric, str) or len(rubric) > 20_000:
            raise BadRequest("an llm judge's rubric is text (at most 20000 characters)")
        return JudgeSpec(kind, model=model, rubric=rubric)
    if kind == "python":
        function = value.get("function")
        if not isinstance(function, str) or not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", function):
            raise BadRequest("a python judge needs function: module:function")
        return JudgeSpec(kind, function=function)
    return JudgeSpec(kind)


def judge_from_text(text: str) -> dict[str, Any]:
    """``exact``, ``normalized``, ``json``, ``json_schema:{...}``, ``regex:PATTERN``, ``keywords:a,b``,
    ``numeric:0.01``, ``llm:PROVIDER:MODEL``, ``python:module:function``."""
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower().replace("-", "_")
    if kind == "json":
        return {"kind": "json_schema", "schema": {}}
    if kind == "json_schema":
        import json

        try:
            return {"kind": kind, "schema": json.loads(rest) if rest else {}}
        except ValueError as exc:
            raise BadRequest(f"json_schema judge: the schema is not JSON ({exc})") from exc
    if kind == "regex":
        return {"kind": kind, "pattern": rest}
    if kind == "keywords":
        return {"kind": kind, "words": [w.strip() for w in rest.split(",") if w.strip()]}
    if kind == "numeric":
        try:
            return {"kind": kind, "tolerance": float(rest) if rest else 0.0}
        except ValueError as exc:
            raise BadRequest(f"numeric judge: tolerance {rest!r} is not a number") from exc
    if kind == "llm":
        return {"kind": kind, "model": rest}
    if kind == "python":
        return {"kind": kind, "function": rest}
    return {"kind": kind}


def spec_from_json(data: dict[str, Any]) -> ReplaySpec:
    """A stored spec back (the metadata DB's copy, written by ``to_json``)."""
    judges = tuple(
        JudgeSpec(
            **{
                **j,
                "words": tuple(j.get("words", ())),
                "model": ModelRef(**j["model"]) if j.get("model") else None,
            }
        )
        for j in data["judges"]
    )
    return ReplaySpec(**{**data, "candidate": ModelRef(**data["candidate"]), "judges": judges})


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > 20:
        raise BadRequest(f"{name} must be a list (at most 20)")
    return value


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be an integer from {low} to {high}")
    return value


def _number(value: Any, name: str, low: float, high: float, *, required: bool = False) -> float:
    if value is None and required:
        raise BadRequest(f"{name} is required: a replay always has a cost cap")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{name} must be a number")
    if not low < value <= high:
        raise BadRequest(f"{name} must be more than {low:g} and at most {high:g}")
    return float(value)


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}")
    return str(value)
