"""Entry points of the official ``openai`` client that are patched by ``instrument(["openai"])``.

``create`` covers ``stream=True`` too (the returned ``Stream`` is watched), and the ``.stream()``
helpers of chat completions and the Responses API, which call ``create(stream=True)`` when their
manager is entered (checked against openai 3.x). ``parse`` posts on its own, so it is patched too.
``with_raw_response`` wraps the resource's bound methods, so it is covered when ``instrument()`` ran
before the client's ``with_raw_response`` was first used (it is cached per resource object).
"""

from __future__ import annotations

from ._patch import Target

_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"
_EMBEDDINGS = "openai.resources.embeddings"
_COMPLETIONS = "openai.resources.completions"

TARGETS = [
    Target(_CHAT, "Completions", "create", False, "openai", "chat", stream_usage=True),
    Target(_CHAT, "AsyncCompletions", "create", True, "openai", "chat", stream_usage=True),
    Target(_CHAT, "Completions", "parse", False, "openai", "chat"),
    Target(_CHAT, "AsyncCompletions", "parse", True, "openai", "chat"),
    Target(_RESPONSES, "Responses", "create", False, "openai", "chat"),
    Target(_RESPONSES, "AsyncResponses", "create", True, "openai", "chat"),
    Target(_RESPONSES, "Responses", "parse", False, "openai", "chat"),
    Target(_RESPONSES, "AsyncResponses", "parse", True, "openai", "chat"),
    Target(_EMBEDDINGS, "Embeddings", "create", False, "openai", "embeddings"),
    Target(_EMBEDDINGS, "AsyncEmbeddings", "create", True, "openai", "embeddings"),
    Target(_COMPLETIONS, "Completions", "create", False, "openai", "text_completion", stream_usage=True),
    Target(_COMPLETIONS, "AsyncCompletions", "create", True, "openai", "text_completion", stream_usage=True),
]
