"""Calling a candidate (or an LLM judge) through the provider's real client library, with retries.

``openai`` also serves every OpenAI-compatible server (vLLM, Ollama, a LiteLLM proxy) by ``base_url``.
The client libraries' own retries are off (``max_retries=0``): ``with_retries`` retries 429s, 5xx,
timeouts and dropped connections itself, with exponential backoff and jitter (honouring
``Retry-After``), so every retry is counted. Other errors (400, 401, 404: the request or the key is
wrong) fail the sample at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tiermix_server.replay.spec import DEFAULT_MAX_TOKENS, ModelRef

BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 20.0
RETRY_AFTER_MAX_S = 60.0
_ENV_KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    model: str  # as the provider reported it
    ms: float
    start_ns: int
    end_ns: int


class Retryable(Exception):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Failed(Exception):
    """The call cannot succeed as asked (bad request, bad key, unknown model): not retried."""


def server_key_name(ref: ModelRef) -> str | None:
    """The server environment variable whose key ``ref`` may use: only on the provider's own API."""
    return None if ref.base_url else _ENV_KEYS[ref.provider]


def make_client(ref: ModelRef, api_key: str | None, timeout_s: float) -> Any:
    if ref.provider == "anthropic":
        import anthropic

        return anthropic.Anthropic(
            api_key=api_key or "unused", base_url=ref.base_url or None, max_retries=0, timeout=timeout_s
        )
    import openai

    return openai.OpenAI(
        api_key=api_key or "unused", base_url=ref.base_url or None, max_retries=0, timeout=timeout_s
    )


def complete(
    client: Any, ref: ModelRef, messages: list[dict[str, str]], params: dict[str, Any]
) -> Completion:
    """One call; raises ``Retryable`` or ``Failed``."""
    start_ns = time.time_ns()
    started = time.perf_counter()
    try:
        if ref.provider == "anthropic":
            text, usage_in, usage_out, model = _anthropic(client, ref.model, messages, params)
        else:
            text, usage_in, usage_out, model = _openai(client, ref.model, messages, params)
    except (Retryable, Failed):
        raise
    except Exception as exc:
        raise _classify(exc) from exc
    return Completion(
        text, usage_in, usage_out, model or ref.model, (time.perf_counter() - started) * 1000, start_ns,
        time.time_ns(),
    )  # fmt: skip


def with_retries(
    call: Callable[[], Completion],
    max_retries: int,
    on_retry: Callable[[str], None],
    stop: Callable[[], bool],
) -> Completion:
    """``call`` until it succeeds, fails for good, or ``max_retries`` retries are spent."""
    attempt = 0
    while True:
        try:
            return call()
        except Retryable as exc:
            if attempt >= max_retries or stop():
                raise Failed(f"gave up after {attempt} retries: {exc}") from exc
            on_retry(str(exc))
            if exc.retry_after_s is not None:
                delay = min(exc.retry_after_s, RETRY_AFTER_MAX_S)
            else:
                delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt) * random.uniform(0.5, 1.0)
            time.sleep(delay)
            attempt += 1


def _openai(
    client: Any, model: str, messages: list[dict[str, str]], params: dict[str, Any]
) -> tuple[str, int, int, str]:
    kwargs = {k: v for k, v in params.items() if k in ("temperature", "max_tokens", "top_p", "stop", "seed")}
    response = client.chat.completions.create(model=model, messages=messages, **kwargs)
    text = (response.choices[0].message.content or "") if response.choices else ""
    usage = response.usage
    return text, _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"), response.model or ""


def _anthropic(
    client: Any, model: str, messages: list[dict[str, str]], params: dict[str, Any]
) -> tuple[str, int, int, str]:
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [
        {"role": "assistant" if m["role"] == "assistant" else "user", "content": m["content"]}
        for m in messages
        if m["role"] != "system"
    ]
    kwargs: dict[str, Any] = {"max_tokens": int(params.get("max_tokens") or DEFAULT_MAX_TOKENS)}
    for key in ("temperature", "top_p"):
        if key in params:
            kwargs[key] = params[key]
    if params.get("stop"):
        stop = params["stop"]
        kwargs["stop_sequences"] = list(stop) if isinstance(stop, list | tuple) else [stop]
    if system:
        kwargs["system"] = system
    response = client.messages.create(model=model, messages=turns, **kwargs)
    text = "".join(getattr(block, "text", "") for block in response.content)
    usage = response.usage
    return text, _tokens(usage, "input_tokens"), _tokens(usage, "output_tokens"), response.model or ""


def _tokens(usage: Any, name: str) -> int:
    value = getattr(usage, name, None) if usage is not None else None
    return int(value) if isinstance(value, int) and value >= 0 else 0


def _classify(exc: Exception) -> Exception:
    """A client library's exception → Retryable (429, 5xx, timeout, connection) or Failed."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    if (
        name in ("APITimeoutError", "APIConnectionError")
        or status == 429
        or (isinstance(status, int) and status >= 500)
    ):
        retry_after = None
        response = getattr(exc, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        if header is not None:
            try:
                retry_after = max(0.0, float(header))
            except ValueError:
                retry_after = None
        label = f"HTTP {status}" if status else name
        return Retryable(label, retry_after)
    if status is not None:
        return Failed(f"HTTP {status}: {str(exc)[:300]}")
    return Failed(f"{name}: {str(exc)[:300]}")
