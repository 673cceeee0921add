"""Delivering a notification to one channel without letting a failure spread.

``deliver`` turns every channel failure into a ``Delivery`` outcome instead of an exception: one broken
channel never stops the others. What a notification says is alerts/notification.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tiermix_server.alerts.channels import email, slack, webhook
from tiermix_server.alerts.destinations import DestinationPolicy
from tiermix_server.alerts.notification import ChannelError, Notification
from tiermix_server.alerts.rules import Channel

log = logging.getLogger("tiermix.alerts")


@dataclass(frozen=True, slots=True)
class Delivery:
    channel_id: str
    ok: bool
    error: str = ""
    retryable: bool = True  # a failure a later cycle may fix (not a 4xx, not a refused destination)


ATTEMPT_GRACE_S = 1.0  # beyond the channel's timeout, for connection setup and TLS

Sender = Callable[[Notification, Any, DestinationPolicy], Awaitable[None]]


def sender_for(channel: Channel) -> Sender:
    senders: dict[str, Sender] = {"webhook": webhook.send, "slack": slack.send, "email": email.send}
    return senders[channel.type]


async def deliver(
    notification: Notification,
    channel: Channel,
    channel_id: str,
    *,
    backoff_s: float = 0.5,
    policy: DestinationPolicy,
) -> Delivery:
    """Send to one channel, retrying retryable failures with exponential backoff; never raises.

    ``policy`` (destinations.py) says where this rule's channels may connect."""
    attempts = channel.max_attempts
    send = sender_for(channel)
    error = ""
    retryable = True
    for attempt in range(attempts):
        try:
            # A hard deadline per attempt: a receiver that trickles its answer (or SMTP that stalls)
            # cannot hold the delivery longer than the channel's own timeout.
            await asyncio.wait_for(send(notification, channel, policy), channel.timeout_s + ATTEMPT_GRACE_S)
            return Delivery(channel_id, True)
        except ChannelError as exc:
            error = str(exc)
            if not exc.retryable:
                retryable = False
                break
        except TimeoutError:
            error = f"no answer within {channel.timeout_s:g} s"
        except Exception as exc:  # a bug in one channel must not stop the others
            log.exception("alert channel %s crashed", channel_id)
            error = f"{type(exc).__name__}: {exc}"
            retryable = False
            break
        if attempt + 1 < attempts:
            await asyncio.sleep(backoff_s * 2**attempt)
    log.warning("alert %r to channel %s failed: %s", notification.rule_name, channel_id, error)
    return Delivery(channel_id, False, error, retryable)
