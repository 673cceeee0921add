"""The application's arguments, made safe to record: the SDK never raises into the application.

Every public entry point passes what it was given through these before keeping it. A value that cannot
be used (``str()`` raises, a number that is not finite, tags that are not a mapping) is dropped with one
log line per kind of mistake, and the application's own code runs on unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ._log import safe_repr, warn_once

MAX_TEXT_CHARS = 1024  # the collector clips shorter still; this only bounds what sits in the queue


def text(value: object, what: str) -> str | None:
    """``value`` as a string (``None`` stays ``None``); ``None`` when ``str()`` itself fails."""
    if value is None or isinstance(value, str):
        return value[:MAX_TEXT_CHARS] if isinstance(value, str) else None
    try:
        return str(value)[:MAX_TEXT_CHARS]
    except Exception:
        warn_once(
            f"arg:{what}", "tiermix: %s=%s ignored: it cannot be turned into text", what, safe_repr(value)
        )
        return None


def number(value: object, what: str) -> float | None:
    """A finite float, or ``None`` (with a log line when something unusable was given)."""
    if value is None:
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
        if isinstance(value, bool) or not math.isfinite(result):
            raise ValueError
        return result
    except Exception:
        warn_once(f"arg:{what}", "tiermix: %s=%s ignored: want a finite number", what, safe_repr(value))
        return None


def share(value: object, what: str) -> float | None:
    """A share in [0, 1] (``True`` is 1, ``False`` 0), or ``None`` with a log line for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    result = number(value, what)
    if result is None or not 0.0 <= result <= 1.0:
        if result is not None:
            warn_once(
                f"arg:{what}", "tiermix: %s=%s ignored: give a share from 0 to 1", what, safe_repr(value)
            )
        return None
    return result


def tags(value: object, what: str = "tags") -> tuple[tuple[str, str], ...]:
    """A mapping's items as (str, str) pairs; anything else (or an entry that will not stringify) is
    dropped."""
    if not value:
        return ()
    if not isinstance(value, Mapping):
        warn_once(f"arg:{what}", "tiermix: %s=%s ignored: want a mapping", what, safe_repr(value))
        return ()
    out = []
    for key, item in value.items():
        key_text, item_text = text(key, f"{what} key"), text(item, f"{what} value")
        if key_text is not None and item_text is not None:
            out.append((key_text, item_text))
    return tuple(out)
