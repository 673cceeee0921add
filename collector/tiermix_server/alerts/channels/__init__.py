"""Notification channels: one module per kind, each an ``async def send(notification, channel)``."""
