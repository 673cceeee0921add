"""LiteLLM ``ModelResponse`` / ``EmbeddingResponse``: OpenAI-shaped, provider in hidden params.

LiteLLM answers for many providers in the OpenAI shape and says which one served in
``_hidden_params["custom_llm_provider"]``.
"""

from __future__ import annotations

from typing import Any

from . import openai
from ._shape import Extracted, g

_PROVIDERS = {"bedrock": "aws.bedrock", "vertex_ai": "gcp.vertex_ai", "gemini": "gcp.gemini"}


def provider(obj: Any) -> str | None:
    hidden = getattr(obj, "_hidden_params", None) or {}
    name = hidden.get("custom_llm_provider") if isinstance(hidden, dict) else None
    return _PROVIDERS.get(name, name) if isinstance(name, str) else None


def model_response(obj: Any) -> Extracted:
    if g(obj, "object") == "list":
        return openai.embeddings(obj, provider(obj))
    return openai.chat(obj, provider(obj))
