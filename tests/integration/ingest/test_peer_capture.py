"""Content capture from other instrumentations: what real peers sent becomes a replayable request.

The peer corpus (``tests/peers/corpus``, recorded from the real PyPI packages) is sent to a collector
with a capture policy for every route of the default tenant. Each peer that sends content attributes
must yield a capture whose request is the chat the application sent (``hi``) and whose answer is what
the fake provider said; a peer that sends no content yields none. Nothing of the content reaches
``llm_calls``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ingest.test_peer_corpus import CORPUS, SETTINGS, requests_moved_to_now

# Peers whose spans carry the request's messages (in the spelling of content.py), with capture on in the
# way tests/peers/capture.py ran them; the others send no content by default (docs/peers.md).
SENDS_CONTENT = {
    "openllmetry", "traceloop", "openlit", "openinference", "openinference-langchain", "logfire",
    "litellm", "pydantic-ai",
}  # fmt: skip


def _captures(collector: Any) -> list[dict[str, Any]]:
    names = ("provider", "model", "request", "response", "bytes")
    rows = collector.rows(f"SELECT {', '.join(names)} FROM replay_captures FINAL ORDER BY provider")
    return [dict(zip(names, row, strict=True)) for row in rows]


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")), ids=lambda path: path.stem)
def test_peer_content_is_captured_as_a_replayable_request(path: Path, make_collector: Any) -> None:
    corpus = json.loads(path.read_text())
    peer = corpus["peer"]
    collector = make_collector(**SETTINGS.get(peer, {}))
    put = collector.http.put(
        "/api/v1/capture/policies", json={"tenant": "default", "route": "*", "sample_rate": 1.0}
    )
    assert put.status_code == 200, put.text
    for body in requests_moved_to_now(corpus):
        assert collector.post(body).status_code == 200
    calls = len(corpus["calls"])
    collector.wait_for(lambda: collector.scalar("SELECT count() FROM llm_calls") >= calls)
    if peer not in SENDS_CONTENT:
        # a capture travels in its call's batch, so once the calls are stored any capture would be too
        time.sleep(0.5)
        assert _captures(collector) == [], peer
        return
    # every call, once: a call several instrumentations report is captured from the one row it became
    collector.wait_for(lambda: collector.scalar("SELECT count() FROM replay_captures FINAL") >= calls)
    captures = _captures(collector)
    assert len(captures) == calls, (peer, captures)
    for capture in captures:
        request = json.loads(capture["request"])
        users = [m["content"] for m in request["messages"] if m["role"] == "user"]
        assert users and users[-1] == "hi", (peer, request)
        assert capture["response"], (peer, capture)
        assert capture["bytes"] == len(capture["request"].encode()) + len(capture["response"].encode())
    leaked = collector.scalar("SELECT count() FROM llm_calls WHERE positionUTF8(toString(tags), 'hi') > 0")
    assert leaked == 0
