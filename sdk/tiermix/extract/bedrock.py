"""AWS Bedrock Converse results (boto3 returns plain dicts).

With Bedrock Intelligent Prompt Routing the request names a router; the model that actually answered
is in ``trace.promptRouter.invokedModelId`` (an ARN), which is what tiering must see.
"""

from __future__ import annotations

from typing import Any

from ._shape import Extracted, add, as_int, g


def served_model(obj: Any) -> str | None:
    invoked = g(g(g(obj, "trace"), "promptRouter"), "invokedModelId")
    if not isinstance(invoked, str) or not invoked:
        return None
    # arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0
    return invoked.rsplit("/", 1)[-1]


def converse(obj: Any) -> Extracted:
    usage = g(obj, "usage")
    cache_read = as_int(g(usage, "cacheReadInputTokens"))
    cache_write = as_int(g(usage, "cacheWriteInputTokens"))
    return Extracted(
        "aws.bedrock",
        "chat",
        served_model(obj),
        add(as_int(g(usage, "inputTokens")), cache_read, cache_write),
        as_int(g(usage, "outputTokens")),
        cache_read,
        cache_write,
        None,
        g(obj, "stopReason"),
    )


def is_converse(obj: Any) -> bool:
    return isinstance(obj, dict) and "stopReason" in obj and isinstance(obj.get("usage"), dict)
