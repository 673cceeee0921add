"""One collector with captured quiz traffic per module (tests that change auth or settings start their
own)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.integration.replay.harness import ReplayStack, replay_stack

QUESTIONS = 300
SPLIT = 5  # questions with n % 10 < 5 go to the small tier in production, the rest to the top tier
_counter = itertools.count()


@pytest.fixture(scope="module")
def module_settings(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tiermix_server.settings import Settings

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path_factory.mktemp("replay"),
            "clickhouse_url": f"chdb://{chdb_dir}",
            "clickhouse_database": f"replay_{os.getpid()}_{next(_counter)}",
            "port": free_port(),
            "dashboard_port": free_port(),
            "alerts_enabled": False,
            **overrides,
        }
        return Settings(**values)

    return factory


@pytest.fixture(scope="module")
def stack(module_settings: Any) -> Iterator[ReplayStack]:
    """300 quiz questions, half to claude-3-5-haiku (small), half to claude-opus-4 (frontier), captured."""
    with replay_stack(module_settings) as s:
        assert s.send_traffic(QUESTIONS, "--split", str(SPLIT)) == QUESTIONS
        s.wait_captured(QUESTIONS)
        yield s
