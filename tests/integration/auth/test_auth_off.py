"""Auth is off only while no active key exists; the first key switches it on for every route."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.server import running_server


def test_without_keys_everything_is_open_and_the_first_key_closes_it(settings: Any) -> None:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key, revoke_key

    with running_server(settings) as url:
        assert httpx.get(f"{url}/api/v1/summary", timeout=10).status_code == 200
        assert httpx.get(f"{url}/api/v1/admin/tiers", timeout=10).status_code == 200
        created = create_key(open_meta(settings), scope="read", tenant=None)
        assert httpx.get(f"{url}/api/v1/summary", timeout=10).status_code == 401
        headers = {"Authorization": f"Bearer {created.key}"}
        assert httpx.get(f"{url}/api/v1/summary", headers=headers, timeout=10).status_code == 200
        revoke_key(open_meta(settings), created.info.prefix)
        # the only key is gone: auth is off again (loopback only; the start-up check guards the rest)
        assert httpx.get(f"{url}/api/v1/summary", timeout=10).status_code == 200


def test_the_server_refuses_a_public_address_without_keys_unless_insecure(make_settings: Any) -> None:
    import pytest

    from tiermix_server.errors import SettingsError
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key
    from tiermix_server.security import check_listen_address

    public = make_settings(host="0.0.0.0")
    with pytest.raises(SettingsError, match="without API keys"):
        check_listen_address(public)
    check_listen_address(make_settings(host="0.0.0.0", insecure=True, data_dir=public.data_dir))
    create_key(open_meta(public), scope="admin", tenant=None)
    check_listen_address(public)
