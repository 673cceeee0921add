"""Start-up security checks (docs/security.md): auth may be off only on loopback."""

from __future__ import annotations

from tiermix_server.errors import SettingsError
from tiermix_server.settings import Settings


def check_listen_address(settings: Settings) -> None:
    """Refuse a non-loopback listener that has no API key, unless ``--insecure`` was given."""
    if settings.listens_on_loopback or settings.insecure:
        return
    from tiermix_server.meta.keys import count_active_keys

    if count_active_keys(settings) == 0:
        raise SettingsError(
            f"refusing to listen on {settings.host} without API keys: create one with "
            "`tiermix keys create --all-tenants --scope admin`, or pass --insecure"
        )
