"""A serving collector tunes Python's cycle collector once everything has started (gc_pause.py)."""

from __future__ import annotations

import gc
from typing import Any

from tests.support.server import serving_app
from tiermix_server.app import create_app
from tiermix_server.gc_pause import SERVING_THRESHOLDS, tune_for_serving


def test_the_cycle_collector_is_tuned_after_every_component_started(settings: Any) -> None:
    seen: list[tuple[bool, int]] = []
    thresholds = gc.get_threshold()

    def started() -> None:
        # What start-up built is frozen only once it is all there: the pipeline runs by now.
        tune_for_serving()
        seen.append((app.state.runtime.pipeline is not None, gc.get_freeze_count()))

    app = create_app(settings, on_started=started)
    try:
        with serving_app(app, settings.port):
            assert gc.get_threshold() == SERVING_THRESHOLDS
        [(pipeline_running, frozen)] = seen
        assert pipeline_running and frozen > 10_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
