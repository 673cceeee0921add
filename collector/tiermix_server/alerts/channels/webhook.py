"""Generic webhook: the notification as JSON, signed so the receiver can check it came from us.

Headers: ``X-Tiermix-Signature: sha256=<hex>`` is HMAC-SHA256 of the exact body bytes with the
channel's secret; ``X-Tiermix-Event`` is the kind. The body carries ``at`` and a fingerprint, so a
receiver can also reject replays. 5xx, 429 and network errors are retried (``notify.deliver``); other
4xx are not: the receiver said no, and asking again will not change its mind.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

from tiermix_server.alerts.destinations import (
    DestinationPolicy,
    DestinationRefused,
    url_endpoint,
    url_for_address,
)
from tiermix_server.alerts.notification import ChannelError, Notification

SIGNATURE_HEADER = "X-Tiermix-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (and what the docs show): constant-time compare of the signature."""
    return hmac.compare_digest(sign(secret, body), signature)


def body_of(notification: Notification, channel_id: str = "") -> bytes:
    payload = notification.to_json()
    payload["fingerprint"] = notification.fingerprint(channel_id)
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


async def post_json(
    url: str, body: bytes, headers: dict[str, str], timeout_s: float, policy: DestinationPolicy
) -> None:
    """POST to ``url`` at the address the policy checked (resolve, then connect: destinations.py)."""
    import httpx

    host, port = url_endpoint(url)
    try:
        address = await policy.resolve_async(host, port)
    except DestinationRefused as exc:
        raise ChannelError(str(exc), retryable=False) from None
    target, host_header = url_for_address(url, address)
    extensions = {"sni_hostname": host} if url.startswith("https:") else {}
    try:
        # trust_env=False: no proxy from the environment in between; redirects are never followed.
        async with httpx.AsyncClient(timeout=timeout_s, trust_env=False, follow_redirects=False) as client:
            response = await client.post(
                target, content=body, headers={**headers, "Host": host_header}, extensions=extensions
            )
    except httpx.HTTPError as exc:
        raise ChannelError(f"{type(exc).__name__} posting to {_origin(url)}: {exc}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise ChannelError(f"{_origin(url)} answered {response.status_code}")
    if response.status_code >= 400:
        raise ChannelError(f"{_origin(url)} answered {response.status_code}", retryable=False)


async def send(notification: Notification, channel: Any, policy: DestinationPolicy) -> None:
    body = body_of(notification)
    headers = {
        **channel.headers,
        "Content-Type": "application/json",
        "User-Agent": "tiermix-alerts/1",
        "X-Tiermix-Event": notification.kind,
    }
    if channel.secret:
        headers[SIGNATURE_HEADER] = sign(channel.secret, body)
    await post_json(channel.url, body, headers, channel.timeout_s, policy)


def _origin(url: str) -> str:
    """Host and port only: webhook paths often carry tokens that must not reach logs or events."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
