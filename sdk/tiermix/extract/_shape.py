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

# ``new_tuple(Extracted, (...))`` builds one without the NamedTuple's generated Python ``__new__`` (its
# keyword defaults cost ~0.1 µs per call); the hot client-object extractors use it with all 9 fields.
new_tuple = tuple.__new__


_MISSING = object()
_PYDANTIC: dict[type, bool] = {}


def g(obj: Any, name: str) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` otherwise; ``None`` when absent.

    Hot path. A pydantic model answers a *missing* attribute through ``__getattr__`` and a raised
    ``AttributeError`` (~1.5 µs, measured), so fields are read from the instance ``__dict__`` and
    extras from ``__pydantic_extra__``; only other classes pay for ``getattr``.
    """
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    cls = type(obj)
    try:
        value = obj.__dict__.get(name, _MISSING)
    except AttributeError:  # __slots__ class
        return getattr(obj, name, None)
    if value is not _MISSING:
        return value
    pydantic = _PYDANTIC.get(cls)
    if pydantic is None:
        pydantic = _PYDANTIC[cls] = hasattr(cls, "__pydantic_fields__")
    if pydantic:
        extra = obj.__pydantic_extra__
        return extra.get(name) if extra else None
    return getattr(obj, name, None)


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def add(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
