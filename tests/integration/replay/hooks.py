"""Redaction hooks an operator might configure (``TIERMIX_CAPTURE_REDACT=module:function``)."""

from __future__ import annotations

import re


def explode(text: str) -> str:
    raise RuntimeError("a broken hook")


def digits(text: str) -> str:
    """Numbers are what this operator hides (and not e-mail addresses: the default is replaced)."""
    return re.sub(r"\d+", "#", text)
