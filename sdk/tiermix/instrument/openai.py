"""Entry points of the official ``openai`` client that are patched by ``instrument(["openai"])``.

``create`` covers ``stream=True`` too (the returned ``Stream`` is watched), and the
``with_raw_response`` wrappers, which call ``create`` underneath.
"""

from __future__ import annotations

from ._patch import Target

_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"
_EMBEDDINGS = "openai.resources.embeddings"
_COMPLETIONS = "openai.resources.completions"

TARGETS = [
    Target(_CHAT, "Completions", "create", False, "openai", "chat"),
    Target(_CHAT, "AsyncCompletions", "create", True, "openai", "chat"),
    Target(_RESPONSES, "Responses", "create", False, "openai", "chat"),
    Target(_RESPONSES, "AsyncResponses", "create", True, "openai", "chat"),
    Target(_EMBEDDINGS, "Embeddings", "create", False, "openai", "embeddings"),
    Target(_EMBEDDINGS, "AsyncEmbeddings", "create", True, "openai", "embeddings"),
    Target(_COMPLETIONS, "Completions", "create", False, "openai", "text_completion"),
    Target(_COMPLETIONS, "AsyncCompletions", "create", True, "openai", "text_completion"),
]
