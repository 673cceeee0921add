"""``tiermix prices show|list|set|delete|reprice``: prices in the metadata DB, and re-pricing history.

``reprice`` needs ClickHouse. With embedded ClickHouse (chDB) only one process may hold the data dir; when
a running server holds it, the command goes through that server's admin API (``settings.api_url``, with
an admin key from ``--api-key`` / ``TIERMIX_API_KEY``), and says plainly what to do if it cannot.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tiermix_server.commands.common import add_storage_flags, settings_from
from tiermix_server.errors import DataDirInUse, TiermixError

if TYPE_CHECKING:
    from tiermix_server.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("prices", help="show and set prices; re-price history")
    sub = parser.add_subparsers(dest="prices_command", metavar="ACTION", required=True)

    show = sub.add_parser("show", help="the price a call to MODEL pays (at a date, for a tenant)")
    show.add_argument("model")
    show.add_argument("--provider", default="", help="provider (openai, anthropic, aws.bedrock, ...)")
    show.add_argument("--tenant", default="", help="include this tenant's overrides")
    show.add_argument("--at", help="date or timestamp (default: now)")
    add_storage_flags(show)
    show.set_defaults(run=run_show)

    listing = sub.add_parser("list", help="list price overrides and custom prices")
    add_storage_flags(listing)
    listing.set_defaults(run=run_list)

    setp = sub.add_parser("set", help="add a discount or a custom price, effective from a date")
    setp.add_argument("model", help="model name or glob pattern (e.g. 'llama-3.1-*')")
    setp.add_argument("--provider", help="only for this provider (default: any)")
    setp.add_argument("--tenant", help="only for this tenant (default: every tenant)")
    kind = setp.add_mutually_exclusive_group(required=True)
    kind.add_argument("--discount", type=float, metavar="PCT", help="percent off the genai-prices cost")
    kind.add_argument("--input", type=float, metavar="USD", help="custom price: USD per 1M input tokens")
    setp.add_argument("--output", type=float, metavar="USD", help="custom price: USD per 1M output tokens")
    setp.add_argument(
        "--cache-read", type=float, metavar="USD", help="USD per 1M cache-read tokens (default input)"
    )
    setp.add_argument(
        "--cache-write", type=float, metavar="USD", help="USD per 1M cache-write tokens (default input)"
    )
    setp.add_argument("--from", dest="effective_from", help="effective from this date (default: now)")
    setp.add_argument("--note", default="")
    add_storage_flags(setp)
    setp.set_defaults(run=run_set)

    delete = sub.add_parser("delete", help="delete a price override by id")
    delete.add_argument("id", type=int)
    add_storage_flags(delete)
    delete.set_defaults(run=run_delete)

    reprice = sub.add_parser("reprice", help="recompute stored cost since a date (rollups included)")
    add_rewrite_flags(reprice)
    reprice.set_defaults(run=run_reprice)


def add_rewrite_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", required=True, help="first date to rewrite (ISO date or timestamp)")
    parser.add_argument("--tenant", help="only this tenant (default: all)")
    parser.add_argument("--api-key", help="admin key for a running server (TIERMIX_API_KEY)")
    parser.add_argument("--api-url", help="a running server's address (TIERMIX_API_URL, default from --port)")
    parser.add_argument("--port", type=int, help="the running server's port (TIERMIX_PORT, default 4318)")
    add_storage_flags(parser)


def _usd_per_mtok(value: float | None) -> str:
    return "-" if value is None else f"${value:.4g}"


def run_show(args: argparse.Namespace) -> int:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing.enricher import build_enricher
    from tiermix_server.pricing.prices import parse_instant

    settings = settings_from(args)
    enricher = build_enricher(settings, open_meta(settings), background=False)
    at = parse_instant(args.at) if args.at else datetime.now(timezone.utc)
    quote = enricher.quote(at, args.tenant, args.provider, args.model)
    decision = enricher.explain(args.model, args.provider)
    print(f"model:    {args.model}" + (f" (provider {args.provider})" if args.provider else ""))
    print(f"at:       {at.isoformat()}" + (f", tenant {args.tenant}" if args.tenant else ""))
    print(f"tier:     {decision.tier} ({decision.source})")
    if quote.table is None:
        print("price:    unpriced (no genai-prices match and no custom price): calls are stored unpriced")
        return 0
    print(f"source:   {quote.source}" + (f" (x{quote.factor:.4g} discount)" if quote.factor != 1.0 else ""))
    starts = (0, *quote.table.thresholds)
    for start, unit in zip(starts, quote.table.segments, strict=True):
        label = "prices:  " if start == 0 else f"> {start} input tokens:"
        mtok = 1_000_000 * quote.factor
        print(
            f"{label} input {_usd_per_mtok(unit.input * mtok)}  output {_usd_per_mtok(unit.output * mtok)}  "
            f"cache read {_usd_per_mtok(unit.cache_read * mtok)}  "
            f"cache write {_usd_per_mtok(unit.cache_write * mtok)}  (USD per 1M tokens)"
        )
    print(f"blended:  ${quote.blended_usd_per_mtok:.4g} per 1M tokens (3:1 input:output)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.stores import list_overrides

    rows = list_overrides(open_meta(settings_from(args)))
    print(f"{'ID':<5}{'KIND':<10}{'MODEL':<28}{'PROVIDER':<14}{'TENANT':<16}{'EFFECTIVE FROM':<22}PRICE")
    for row in rows:
        if row.kind == "discount":
            price = f"-{row.discount_pct:g}%"
        else:
            price = (
                f"in {_usd_per_mtok(row.input_usd_per_mtok)} out {_usd_per_mtok(row.output_usd_per_mtok)} /1M"
            )
        print(
            f"{row.id:<5}{row.kind:<10}{row.model:<28}{(row.provider or '*'):<14}{(row.tenant or '*'):<16}"
            f"{row.effective_from.strftime('%Y-%m-%d %H:%M:%SZ'):<22}{price}"
        )
    return 0


def run_set(args: argparse.Namespace) -> int:
    from tiermix_server.errors import BadRequest
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.stores import add_override
    from tiermix_server.pricing.prices import parse_instant

    effective_from = parse_instant(args.effective_from) if args.effective_from else datetime.now(timezone.utc)
    fields: dict[str, Any] = {"model": args.model, "provider": args.provider, "tenant": args.tenant}
    if args.discount is not None:
        if args.output is not None or args.cache_read is not None or args.cache_write is not None:
            raise BadRequest("--discount cannot be combined with per-token prices")
        fields.update(kind="discount", discount_pct=args.discount)
    else:
        fields.update(
            kind="custom",
            input_usd_per_mtok=args.input,
            output_usd_per_mtok=args.output,
            cache_read_usd_per_mtok=args.cache_read,
            cache_write_usd_per_mtok=args.cache_write,
        )
    row = add_override(
        open_meta(settings_from(args)), effective_from=effective_from, note=args.note, **fields
    )
    print(f"added {row.kind} price {row.id} for {row.model}, effective from {row.effective_from.isoformat()}")
    if row.effective_from < datetime.now(timezone.utc):
        since = row.effective_from.date().isoformat()
        print(f"calls already stored keep their cost until you run: tiermix prices reprice --since {since}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.stores import delete_override

    delete_override(open_meta(settings_from(args)), args.id)
    print(f"deleted price override {args.id}")
    return 0


def run_reprice(args: argparse.Namespace) -> int:
    return run_rewrite(args, "reprice")


def run_rewrite(args: argparse.Namespace, kind: str) -> int:
    """Run ``reprice`` or ``retier`` here, or through the running server that holds the data dir."""
    from tiermix_server.pricing.prices import parse_instant

    settings = settings_from(args, api_url=args.api_url, port=args.port)
    since = parse_instant(args.since, what="--since")
    api_key = args.api_key or os.environ.get("TIERMIX_API_KEY") or None  # entry point: may read env
    try:
        result = _rewrite_locally(settings, kind, since, args.tenant)
    except DataDirInUse as in_use:
        result = _rewrite_through_server(settings, kind, since, args.tenant, api_key, in_use)
    scope = f" for tenant {args.tenant}" if args.tenant else ""
    print(
        f"{kind}: {result['changed']} of {result['scanned']} calls changed since {since.date().isoformat()}"
        f"{scope}; {result['rollup_groups']} rollup groups rebuilt"
    )
    return 0


def _rewrite_locally(settings: Settings, kind: str, since: datetime, tenant: str | None) -> dict[str, int]:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing import reprice as rewrite
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    client = connect(settings)
    migrate(client, settings)
    function = rewrite.reprice if kind == "reprice" else rewrite.retier
    return function(client, settings, open_meta(settings), since, tenant).as_dict()


def _rewrite_through_server(
    settings: Settings,
    kind: str,
    since: datetime,
    tenant: str | None,
    api_key: str | None,
    in_use: DataDirInUse,
) -> dict[str, int]:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one request; its INFO line is noise here
    url = f"{settings.api_url.rstrip('/')}/api/v1/admin/{kind}"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {"since": since.isoformat(), "tenant": tenant}
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=600)
    except httpx.HTTPError:
        raise DataDirInUse(
            f"{in_use} — and no tiermix server answers at {settings.api_url} to do it for us "
            "(pass --api-url or --port if it listens elsewhere)"
        ) from None
    if response.status_code in (401, 403):
        raise TiermixError(
            f"the server at {settings.api_url} holds the data dir and refused this request "
            f"({response.status_code}): pass an admin key with --api-key or TIERMIX_API_KEY"
        )
    if response.status_code != 200:
        raise TiermixError(f"the server at {settings.api_url} could not {kind}: {response.text[:300]}")
    data: dict[str, int] = response.json()
    return data
