"""Channel secrets in rules: generated when missing, hidden from readers, kept across updates.

Webhook HMAC secrets, SMTP passwords and Slack webhook URLs (the URL is the credential) are shown once,
in the answer that created the rule; afterwards they read ``***``, and an update that sends ``***`` back
keeps the stored value, so a rule read from the API can be edited and sent back as it is.
"""

from __future__ import annotations

import secrets
from typing import Any

REDACTED = "***"


def redact(spec_json: dict[str, Any]) -> dict[str, Any]:
    """The rule as readers see it: channel secrets (webhook secret, SMTP password, Slack URL) hidden."""
    channels = []
    for channel in spec_json.get("channels", []):
        channel = dict(channel)
        if channel.get("type") == "webhook" and channel.get("secret"):
            channel["secret"] = REDACTED
        if channel.get("type") == "email" and channel.get("password"):
            channel["password"] = REDACTED
        if channel.get("type") == "slack":
            channel["url"] = REDACTED
        channels.append(channel)
    return {**spec_json, "channels": channels}


def keep_secrets(new_body: dict[str, Any], old_json: dict[str, Any]) -> dict[str, Any]:
    """An update that sends back redacted secrets keeps the stored ones (same position, same type)."""
    old_channels = old_json.get("channels", [])
    channels = []
    for index, channel in enumerate(new_body.get("channels", []) or []):
        if isinstance(channel, dict) and index < len(old_channels):
            old = old_channels[index]
            if old.get("type") == channel.get("type"):
                channel = dict(channel)
                for field in ("secret", "password", "url"):
                    if channel.get(field) == REDACTED and field in old:
                        channel[field] = old[field]
        channels.append(channel)
    if "channels" not in new_body:
        return new_body
    return {**new_body, "channels": channels}


def with_generated_secrets(body: dict[str, Any]) -> dict[str, Any]:
    """A new rule's webhook channels without a secret get a random one (shown once, in the answer)."""
    channels = body.get("channels")
    if not isinstance(channels, list):
        return body
    filled = []
    for channel in channels:
        if isinstance(channel, dict) and channel.get("type") == "webhook" and not channel.get("secret"):
            channel = {**channel, "secret": secrets.token_urlsafe(24)}
        filled.append(channel)
    return {**body, "channels": filled}
