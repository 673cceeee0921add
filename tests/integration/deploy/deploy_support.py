"""Shared by the deploy integration tests: the one reader of docker-compose.yml (tests/unit/deploy)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[3]


def compose_model() -> ModuleType:
    """tests/unit/deploy/compose_model.py: the one reader of docker-compose.yml the tests share."""
    spec = importlib.util.spec_from_file_location(
        "tiermix_compose_model", REPO / "tests" / "unit" / "deploy" / "compose_model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
