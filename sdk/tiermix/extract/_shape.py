"""What extraction produces, and the one accessor every shape uses (objects and dicts alike)."""

from __future__ import annotations

from typing import Any, NamedTuple


class Extracted(NamedTuple):
    """Model and usage read from a provider response.

    A ``NamedTuple`` rather than a frozen dataclass: it is built on the application thread for every
    call, and tuple construction is several times cheaper than a frozen dataclass ``__init__``.
    """

    provider: str | None = None
    operation: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    finish_reason: str | None = None


NOTHING = Extracted()


def g(obj: Any, name: str) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` otherwise; ``None`` when absent."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def add(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
