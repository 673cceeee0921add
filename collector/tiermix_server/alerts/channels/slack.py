"""Slack incoming webhook: a short, readable message with the numbers and the dashboard link."""

from __future__ import annotations

import json
from typing import Any

from tiermix_server.alerts.channels.webhook import post_json
from tiermix_server.alerts.destinations import DestinationPolicy
from tiermix_server.alerts.notification import Notification

_EMOJI = {"firing": ":rotating_light:", "repeat": ":rotating_light:", "resolved": ":white_check_mark:"}


def message_of(notification: Notification) -> dict[str, Any]:
    emoji = _EMOJI.get(notification.kind, ":bell:")
    text = (
        f"{emoji} *{notification.title}*\n"
        f"{notification.summary}\n"
        f"severity: {notification.severity} · <{notification.dashboard_url}|open in tiermix>"
    )
    return {"text": text, "unfurl_links": False}


async def send(notification: Notification, channel: Any, policy: DestinationPolicy) -> None:
    body = json.dumps(message_of(notification)).encode()
    await post_json(channel.url, body, {"Content-Type": "application/json"}, channel.timeout_s, policy)
