"""``tiermix keys create|list|revoke``: API keys in the metadata DB the servers read.

``create`` prints the key once, alone on the last line, so ``KEY=$(tiermix keys create ... | tail -1)``
works in scripts. Keys take effect immediately: servers look keys up on every request.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from tiermix_server.commands.common import add_storage_flags, settings_from

if TYPE_CHECKING:
    from tiermix_server.meta.db import MetaDB


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("keys", help="create, list and revoke API keys")
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    create = sub.add_parser("create", help="create a key (printed once, alone on the last line)")
    bound = create.add_mutually_exclusive_group(required=True)
    bound.add_argument("--tenant", help="bind the key to this tenant")
    bound.add_argument("--all-tenants", action="store_true", help="the key may act for every tenant")
    create.add_argument("--scope", required=True, choices=["ingest", "read", "admin"])
    create.add_argument("--name", default="", help="a label to recognise the key by")
    add_storage_flags(create)
    create.set_defaults(run=run_create)

    listing = sub.add_parser("list", help="list keys (prefix, scope, tenant, last used)")
    listing.add_argument("--active", action="store_true", help="hide revoked keys")
    add_storage_flags(listing)
    listing.set_defaults(run=run_list)

    revoke = sub.add_parser("revoke", help="revoke a key by prefix (as `keys list` shows it)")
    revoke.add_argument("prefix")
    add_storage_flags(revoke)
    revoke.set_defaults(run=run_revoke)


def _meta(args: argparse.Namespace) -> MetaDB:
    from tiermix_server.meta.db import open_meta

    return open_meta(settings_from(args))


def run_create(args: argparse.Namespace) -> int:
    from tiermix_server.meta.keys import create_key

    created = create_key(_meta(args), scope=args.scope, tenant=args.tenant, name=args.name)
    who = f"tenant {created.info.tenant}" if created.info.tenant else "all tenants"
    print(f"created {created.info.scope} key {created.info.prefix} for {who}")
    print("store it now: it is not shown again")
    print(created.key)
    return 0


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else "never"


def run_list(args: argparse.Namespace) -> int:
    from tiermix_server.meta.keys import list_keys

    keys = list_keys(_meta(args), include_revoked=not args.active)
    print(f"{'PREFIX':<14}{'SCOPE':<8}{'TENANT':<20}{'CREATED':<22}{'LAST USED':<22}{'STATUS':<9}NAME")
    for key in keys:
        status = "active" if key.active else "revoked"
        print(
            f"{key.prefix:<14}{key.scope:<8}{(key.tenant or '*'):<20}{_when(key.created_at):<22}"
            f"{_when(key.last_used_at):<22}{status:<9}{key.name}"
        )
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from tiermix_server.meta.keys import revoke_key

    info = revoke_key(_meta(args), args.prefix)
    print(f"revoked key {info.prefix} ({info.scope}, {info.tenant or 'all tenants'})")
    return 0
