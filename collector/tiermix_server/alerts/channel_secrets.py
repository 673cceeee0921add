"""Channel secrets in rules: generated when missing, hidden from readers, kept across updates.

Every credential-bearing part of a channel is shown once, in the answer that created the rule, and
reads ``***`` afterwards, for every reader: webhook HMAC secrets and header values (``Authorization``),
credentials and the path and query of webhook URLs (``https://***@hooks.example.com/***``: tokens live
there), Slack webhook URLs (the URL is the credential), SMTP user names and passwords. A reader sees that
a secret is set and where a channel goes, never the secret. A tenant-bound key reading a *global* rule
(the operator's) sees only each channel's type (``redact(..., targets=False)``). An update that sends a
redacted value back keeps the stored one, so a rule read from the API can be edited and sent back as is.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "***"


def redact_url(url: str) -> str:
    """``https://user:pw@host:8443/path?q`` → ``https://***@host:8443/***``: where it goes, not how in."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (
        ("***@" if parts.username or parts.password else "")
        + (f"[{host}]" if ":" in host else host)
        + (f":{parts.port}" if parts.port else "")
    )
    hidden = "/" + REDACTED if parts.path.strip("/") or parts.query or parts.fragment else parts.path
    return urlunsplit((parts.scheme, netloc, hidden, "", ""))


def _redacted(channel: dict[str, Any]) -> dict[str, Any]:
    channel = dict(channel)
    kind = channel.get("type")
    if kind == "webhook":
        if channel.get("secret"):
            channel["secret"] = REDACTED
        if channel.get("url"):
            channel["url"] = redact_url(str(channel["url"]))
        if channel.get("headers"):
            channel["headers"] = dict.fromkeys(channel["headers"], REDACTED)
    elif kind == "slack":
        channel["url"] = REDACTED
    elif kind == "email":
        for field in ("password", "username"):
            if channel.get(field):
                channel[field] = REDACTED
    return channel


def redact(spec_json: dict[str, Any], *, targets: bool = True) -> dict[str, Any]:
    """The rule as readers see it: secrets hidden; with ``targets=False`` only each channel's type."""
    channels = [
        _redacted(channel) if targets else {"type": channel.get("type"), "target": "hidden"}
        for channel in spec_json.get("channels", [])
    ]
    return {**spec_json, "channels": channels}


def keep_secrets(new_body: dict[str, Any], old_json: dict[str, Any]) -> dict[str, Any]:
    """An update that sends back redacted values keeps the stored ones (same position, same type)."""
    old_channels = old_json.get("channels", [])
    channels = []
    for index, channel in enumerate(new_body.get("channels", []) or []):
        if isinstance(channel, dict) and index < len(old_channels):
            old = old_channels[index]
            if old.get("type") == channel.get("type"):
                channel = _restored(dict(channel), old)
        channels.append(channel)
    if "channels" not in new_body:
        return new_body
    return {**new_body, "channels": channels}


def _restored(channel: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    shown = _redacted(old)
    for field in ("secret", "password", "username", "url"):
        if field in old and channel.get(field) is not None and channel.get(field) == shown.get(field):
            channel[field] = old[field]
    headers, old_headers = channel.get("headers"), old.get("headers") or {}
    if isinstance(headers, dict):
        channel["headers"] = {
            name: old_headers[name] if value == REDACTED and name in old_headers else value
            for name, value in headers.items()
        }
    return channel


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
