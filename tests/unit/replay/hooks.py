"""Python judges for test_judges.py: ``module:function(candidate, production, request)``."""

from __future__ import annotations

from typing import Any


def always(candidate: str, production: str, request: dict[str, Any]) -> bool:
    return True


def score(candidate: str, production: str, request: dict[str, Any]) -> float:
    return 0.25 if len(candidate) != len(production) else 1.0


def broken(candidate: str, production: str, request: dict[str, Any]) -> bool:
    return bool(1 / 0)
