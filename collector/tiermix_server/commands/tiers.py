"""``tiermix tiers show|explain|set|unset|define|retier``: the tier map, and re-deriving tiers of history."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tiermix_server.commands.common import add_storage_flags, settings_from
from tiermix_server.commands.prices import add_rewrite_flags, run_rewrite

if TYPE_CHECKING:
    from tiermix_server.meta.stores import TierRow


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("tiers", help="show, explain and edit the tier map; re-tier history")
    sub = parser.add_subparsers(dest="tiers_command", metavar="ACTION", required=True)

    show = sub.add_parser("show", help="the tier list and the tier-map rules")
    show.add_argument("--defaults", action="store_true", help="also list every shipped default rule")
    add_storage_flags(show)
    show.set_defaults(run=run_show)

    explain = sub.add_parser("explain", help="which rule or price band puts MODEL in its tier")
    explain.add_argument("model")
    explain.add_argument("--provider", default="")
    add_storage_flags(explain)
    explain.set_defaults(run=run_explain)

    setr = sub.add_parser("set", help="add a rule: models matching PATTERN belong to TIER")
    setr.add_argument("pattern", help="glob on the lower-cased model name (e.g. '*my-finetune*')")
    setr.add_argument("tier")
    setr.add_argument("--provider", default="*", help="provider pattern (default: any)")
    setr.add_argument("--regex", action="store_true", help="patterns are regular expressions, not globs")
    setr.add_argument("--priority", type=int, default=1000, help="higher wins (defaults use 100-300)")
    setr.add_argument("--note", default="")
    add_storage_flags(setr)
    setr.set_defaults(run=run_set)

    unset = sub.add_parser("unset", help="delete a user rule by id")
    unset.add_argument("id", type=int)
    add_storage_flags(unset)
    unset.set_defaults(run=run_unset)

    define = sub.add_parser("define", help="replace the tier list, cheapest first: small=1 mid=5 frontier")
    define.add_argument("tiers", nargs="+", metavar="NAME[=BAND_MAX_USD_PER_MTOK]")
    add_storage_flags(define)
    define.set_defaults(run=run_define)

    retier = sub.add_parser("retier", help="re-derive tiers of stored calls since a date (rollups included)")
    add_rewrite_flags(retier)
    retier.set_defaults(run=lambda args: run_rewrite(args, "retier"))


def run_show(args: argparse.Namespace) -> int:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.stores import list_rules, list_tiers
    from tiermix_server.pricing.tiers import build_tier_map, default_map_data

    meta = open_meta(settings_from(args))
    rules = list_rules(meta)
    tier_map = build_tier_map(list_tiers(meta), rules)
    print("tiers (cheapest first; unmatched models go by blended USD per 1M tokens):")
    for tier in tier_map.tiers:
        band = f"< ${tier.band_max_usd_per_mtok:g}" if tier.band_max_usd_per_mtok is not None else "above"
        print(f"  {tier.name:<12}{band:<10}{tier.description}")
    print(f"user rules ({len(rules)}):")
    for rule in rules:
        print(
            f"  #{rule.id:<4}{rule.model_pattern!r} provider {rule.provider_pattern!r} ({rule.syntax}, "
            f"priority {rule.priority}) -> {rule.tier}"
        )
    defaults = default_map_data()[1]
    print(f"default rules: {len(defaults)}" + ("" if args.defaults else " (--defaults lists them)"))
    if args.defaults:
        for default in defaults:
            print(
                f"  {default.model_pattern!r} ({default.syntax}, priority {default.priority})"
                f" -> {default.tier}"
            )
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.pricing.enricher import build_enricher

    settings = settings_from(args)
    decision = build_enricher(settings, open_meta(settings), background=False).explain(
        args.model, args.provider
    )
    print(f"{args.model}: {decision.tier}")
    print(f"  {decision.detail}")
    return 0


def run_set(args: argparse.Namespace) -> int:
    from tiermix_server.errors import BadRequest
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.stores import add_rule, list_rules, list_tiers
    from tiermix_server.pricing.tiers import build_tier_map

    meta = open_meta(settings_from(args))
    known = build_tier_map(list_tiers(meta), list_rules(meta)).names
    if args.tier not in known:
        raise BadRequest(f"unknown tier {args.tier!r}: tiers are {', '.join(known)}")
    rule = add_rule(
        meta,
        model_pattern=args.pattern,
        tier=args.tier,
        provider_pattern=args.provider,
        syntax="regex" if args.regex else "glob",
        priority=args.priority,
        note=args.note,
    )
    print(f"added rule #{rule.id}: {rule.model_pattern!r} -> {rule.tier} (priority {rule.priority})")
    print("stored calls keep their tier until you run: tiermix tiers retier --since DATE")
    return 0


def run_unset(args: argparse.Namespace) -> int:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.stores import delete_rule

    delete_rule(open_meta(settings_from(args)), args.id)
    print(f"deleted rule #{args.id}")
    return 0


def parse_tier_list(items: list[str]) -> list[TierRow]:
    from tiermix_server.errors import BadRequest
    from tiermix_server.meta.stores import TierRow

    tiers = []
    for rank, item in enumerate(items):
        name, _, band = item.partition("=")
        try:
            band_max = float(band) if band else None
        except ValueError:
            raise BadRequest(f"band maximum in {item!r} is not a number") from None
        tiers.append(TierRow(name.strip(), rank, band_max, ""))
    return tiers


def run_define(args: argparse.Namespace) -> int:
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.stores import set_tiers

    tiers = parse_tier_list(args.tiers)
    set_tiers(open_meta(settings_from(args)), tiers)
    print("tier list set: " + " < ".join(item.split("=")[0] for item in args.tiers))
    return 0
