"""SDK test fixtures (shared with the other SDK test folder through tests/fakes/sdk_fixtures.py)."""

import os
import sys

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if _ROOT not in sys.path:  # plain `pytest` (not `python -m pytest`) does not put the repo root first
    sys.path.insert(0, _ROOT)

from tests.fakes.sdk_fixtures import providers, sdk, sink  # noqa: E402

__all__ = ["providers", "sdk", "sink"]
