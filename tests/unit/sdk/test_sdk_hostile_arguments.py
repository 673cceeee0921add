"""The SDK never raises into the application: every public entry point, fed hostile arguments.

Each value below is something a real application has passed by mistake (a None, a string where a
number goes, NaN, a huge number, an object whose ``__str__`` raises, a dict for a string). The call must
return normally, the application's own code must still run, and what can be recorded is recorded.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import tiermix


class Hostile:
    def __str__(self) -> str:
        raise RuntimeError("str() of this object fails")

    __repr__ = __str__

    def __float__(self) -> float:
        raise RuntimeError("float() of this object fails")

    def __int__(self) -> int:
        raise RuntimeError("int() of this object fails")


HOSTILE: list[Any] = [
    None,
    -1,
    2**70,
    1.5,
    float("nan"),
    float("inf"),
    -1e308,
    "x",
    "²",
    "9" * 5000,
    "",
    b"\xff",
    {"a": 1},
    [1, 2],
    True,
    Hostile(),
    object(),
]
IDS = [
    type(value).__name__ + ":" + (repr(value)[:12] if not isinstance(value, Hostile) else "hostile")
    for value in HOSTILE
]


@pytest.fixture(autouse=True)
def disabled_sdk() -> Any:
    tiermix.init(endpoint="http://127.0.0.1:9", export_interval_s=3600)
    yield
    tiermix.shutdown(0.1)


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_call_setters_never_raise(value: Any) -> None:
    ran = []
    with tiermix.call(model="m", provider="p") as c:
        c.set_usage(value, value, value, value, value)
        c.set_usage(input_tokens=value)
        c.set_cost(value)
        c.set_served_model(value)
        c.set_finish_reason(value)
        c.set_tags({value: value} if _hashable(value) else {"k": value}, k2=value)
        c.set_content(value, value)
        c.set_times(value, value)
        c.set_error(value)
        c.set_response(value)
        c.first_token()
        ran.append(True)
    assert ran == [True]


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_constructors_and_contexts_never_raise(value: Any) -> None:
    ran = []
    with tiermix.call(model=value, provider=value, route=value, operation=value, tier=value, tags=value):
        ran.append("call")
    with tiermix.context(tenant=value, user=value, route=value):
        ran.append("context")
    with tiermix.route_decision(value, reason=value, score=value):
        ran.append("route_decision")
    with tiermix.cascade(route=value) as cascade:
        cascade.decide(value, reason=value, score=value)
        with tiermix.call(model="m"):
            pass
        cascade.escalate(value, detail=value)
        cascade.failover(value, detail=value)
        ran.append("cascade")
    assert ran == ["call", "context", "route_decision", "cascade"]


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_observe_never_raises_and_keeps_the_functions_result(value: Any) -> None:
    @tiermix.observe(route=value, model=value, provider=value, tier=value, tags=value)
    def answer() -> str:
        return "ok"

    @tiermix.observe(route=value)
    async def answer_async() -> str:
        return "ok"

    assert answer() == "ok"
    assert asyncio.run(answer_async()) == "ok"


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_module_functions_never_raise(value: Any) -> None:
    tiermix.instrument(value)
    tiermix.uninstrument(value)
    assert isinstance(tiermix.flush(value), bool)
    assert tiermix.stats() is not None
    assert isinstance(tiermix.shutdown(value), bool)
    tiermix.init(
        endpoint=value,
        api_key=value,
        service=value,
        max_queue=value,
        batch_size=value,
        export_interval_s=value,
        headers=value,
        capture_content=value,
    )
    tiermix.bind(lambda: None)()


def test_bad_usage_and_cost_are_ignored_not_sent() -> None:
    from tiermix import _runtime

    with tiermix.call(model="m", provider="p") as c:
        c.set_usage(input_tokens=-1, output_tokens="7", reasoning_tokens=1.5)
        c.set_cost(float("nan"))
    rt = _runtime.RT
    assert rt is not None
    record = rt.queue[-1]
    assert record.extracted.input_tokens is None  # -1 ignored
    assert record.extracted.output_tokens == 7  # "7" is a whole number
    assert record.extracted.reasoning_tokens is None  # 1.5 ignored
    assert record.cost_usd is None  # NaN ignored: the collector prices the call


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class _Resource:
    """What ``ask_for_usage`` reads of an openai resource: its client's base URL host."""

    def __init__(self, host: str) -> None:
        self._client = type("C", (), {"base_url": type("U", (), {"host": host})()})()


@pytest.mark.parametrize(
    ("mode", "host", "kwargs", "asked"),
    [
        ("auto", "api.openai.com", {"stream": True}, True),
        ("auto", "127.0.0.1", {"stream": True}, False),
        ("always", "127.0.0.1", {"stream": True}, True),
        ("never", "api.openai.com", {"stream": True}, False),
        ("always", "x", {"stream": False}, False),
        ("always", "x", {"stream": True, "stream_options": {"include_usage": False}}, False),
        ("always", "x", {"stream": True, "stream_options": {"other": 1}}, True),
        ("always", "x", {"stream": True, "stream_options": "not a dict"}, False),
    ],
)
def test_stream_usage_is_asked_for_only_where_wanted(
    mode: str, host: str, kwargs: dict[str, Any], asked: bool
) -> None:
    from tiermix.instrument.stream_usage import ask_for_usage

    before = dict(kwargs)
    assert ask_for_usage(mode, _Resource(host), kwargs) is asked
    if asked:
        assert kwargs["stream_options"] == {**(before.get("stream_options") or {}), "include_usage": True}
    else:
        assert kwargs == before
