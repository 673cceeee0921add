"""Auth is a property of the deployment: off only on loopback before the first key, on for good after."""

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
        # The only key is gone: auth stays on. Nobody without a key gets in, nor mints an admin key.
        locked = httpx.get(f"{url}/api/v1/summary", timeout=10)
        assert locked.status_code == 401 and "tiermix keys create" in locked.text
        minted = httpx.post(
            f"{url}/api/v1/admin/keys", json={"scope": "admin", "all_tenants": True}, timeout=10
        )
        assert minted.status_code == 401
        assert httpx.get(f"{url}/api/v1/admin/keys", timeout=10).status_code == 401
        # The host's CLI can always mint a key: that is the way back in.
        rescue = create_key(open_meta(settings), scope="admin", tenant=None)
        headers = {"Authorization": f"Bearer {rescue.key}"}
        assert httpx.get(f"{url}/api/v1/summary", headers=headers, timeout=10).status_code == 200


def test_the_last_admin_key_is_not_revoked_through_the_api_without_force(settings: Any) -> None:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import create_key

    admin = create_key(open_meta(settings), scope="admin", tenant=None)
    headers = {"Authorization": f"Bearer {admin.key}"}
    with running_server(settings) as url:
        refused = httpx.delete(f"{url}/api/v1/admin/keys/{admin.info.prefix}", headers=headers, timeout=10)
        assert refused.status_code == 409 and "last active all-tenants admin key" in refused.text
        forced = httpx.delete(
            f"{url}/api/v1/admin/keys/{admin.info.prefix}",
            params={"force": "true"},
            headers=headers,
            timeout=10,
        )
        assert forced.status_code == 200
        assert httpx.get(f"{url}/api/v1/summary", headers=headers, timeout=10).status_code == 401


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
