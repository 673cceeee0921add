"""Email over SMTP (smtplib, run in a worker thread so the evaluator's loop keeps going)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Any

from tiermix_server.alerts.destinations import DestinationPolicy, DestinationRefused
from tiermix_server.alerts.notification import ChannelError, Notification


def message_of(notification: Notification, channel: Any) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = notification.title
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["X-Tiermix-Event"] = notification.kind
    lines = [
        notification.summary,
        "",
        f"rule:      {notification.rule_name} (#{notification.rule_id})",
        f"severity:  {notification.severity}",
        f"group:     {', '.join(f'{k}={v}' for k, v in sorted(notification.group.items())) or 'all traffic'}",
        f"at:        {notification.at.isoformat()}",
        f"dashboard: {notification.dashboard_url}",
    ]
    message.set_content("\n".join(lines) + "\n")
    return message


def _send_blocking(message: EmailMessage, channel: Any, policy: DestinationPolicy) -> None:
    # Resolve, then connect to the address that was checked (destinations.py).
    address = policy.resolve(channel.smtp_host, channel.smtp_port)
    with smtplib.SMTP(address, channel.smtp_port, timeout=channel.timeout_s) as smtp:
        smtp._host = channel.smtp_host  # type: ignore[attr-defined]  # STARTTLS names the host (SNI)
        if channel.starttls:
            smtp.starttls()
        if channel.username:
            smtp.login(channel.username, channel.password)
        smtp.send_message(message)


async def send(notification: Notification, channel: Any, policy: DestinationPolicy) -> None:
    message = message_of(notification, channel)
    try:
        await asyncio.to_thread(_send_blocking, message, channel, policy)
    except DestinationRefused as exc:
        raise ChannelError(str(exc), retryable=False) from None
    except smtplib.SMTPResponseException as exc:
        # 4xx is a temporary refusal (greylisting, rate limit); 5xx is final.
        raise ChannelError(
            f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", retryable=exc.smtp_code < 500
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError(f"SMTP {channel.smtp_host}:{channel.smtp_port}: {exc}") from None
