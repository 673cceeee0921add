"""What a response says that the caller did not: the security tests look for leaks there only."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping


def without_echoes(
    text: str, query: Mapping[str, str], payload: bytes | None, status: int, secrets: Iterable[str]
) -> str:
    """``text`` minus the caller's own words: an answer may name what it was asked about
    (``"route": ...``), and an error may quote what it refuses (from the query or the body) — neither
    tells the caller anything new. ``secrets`` are removed from an error only when the caller sent them."""
    for name, value in query.items():
        if isinstance(value, str) and value:
            text = text.replace(f'"{name}":{json.dumps(value)}', "")
    if status >= 400:
        sent = " ".join(v for v in query.values() if isinstance(v, str)) + " "
        sent += (payload or b"").decode("utf-8", "replace")
        for secret in secrets:
            if secret in sent:
                text = text.replace(secret, "")
    return text
