"""Fixtures for the reliability suite (helpers in ``helpers.py``).

Nothing here is autouse: the collector engineer's ``test_collector_*`` modules in this folder do not
see these fixtures unless they ask for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.helpers import Server, reliability_settings, serve


@pytest.fixture(scope="module")
def module_server(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = reliability_settings(chdb_dir, tmp_path_factory.mktemp("collector") / "data")
    with serve(settings) as server:
        yield server
