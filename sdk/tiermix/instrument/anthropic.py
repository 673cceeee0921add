"""Entry points of the official ``anthropic`` client patched by ``instrument(["anthropic"])``.

``messages.stream()`` and ``messages.parse()`` do not go through ``create``, so they are patched
too; the call ``stream()`` starts is recorded when its stream is consumed or closed.
"""

from __future__ import annotations

from ._patch import Target

_MESSAGES = "anthropic.resources.messages.messages"

TARGETS = [
    Target(_MESSAGES, "Messages", "create", False, "anthropic", "chat"),
    Target(_MESSAGES, "AsyncMessages", "create", True, "anthropic", "chat"),
    Target(_MESSAGES, "Messages", "parse", False, "anthropic", "chat"),
    Target(_MESSAGES, "AsyncMessages", "parse", True, "anthropic", "chat"),
    # stream() is a plain function returning a manager in both clients, hence is_async=False.
    Target(_MESSAGES, "Messages", "stream", False, "anthropic", "chat"),
    Target(_MESSAGES, "AsyncMessages", "stream", False, "anthropic", "chat"),
]
