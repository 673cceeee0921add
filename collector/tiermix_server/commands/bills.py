"""``tiermix bills sources|add|remove|sync|import|reconcile`` (docs/reconciliation.md): the providers'
bills against tiermix's figures. These talk to the running server's API with an **all-tenants** key
(``--api-key`` or ``TIERMIX_API_KEY``): admin to manage, read for ``reconcile``. A provider admin key is
read from an environment variable (``--admin-key-env``), never from argv (visible in ``ps``).
"""

from __future__ import annotations

import argparse
import os
import urllib.parse
from pathlib import Path
from typing import Any

from tiermix_server.commands.common import Api, add_server_flags, add_storage_flags, money
from tiermix_server.errors import BadRequest

CAUSES = {
    "absent_from_telemetry": "models billed that no call recorded",
    "absent_from_bill": "recorded calls of models the bill does not list",
    "usage_less_calls": "calls that returned no usage",
    "unpriced_calls": "calls of models without a price",
    "untracked_usage": "more tokens billed than recorded (uninstrumented or lost calls)",
    "price_differs": "same tokens, another price (a price change, discount, batch or priority tier)",
    "unexplained": "not explained by the data",
}


def register(commands: argparse._SubParsersAction) -> None:
    bills = commands.add_parser("bills", help="reconcile tiermix's figures with the providers' own bills")
    sub = bills.add_subparsers(dest="bills_command", metavar="ACTION", required=True)
    sources = sub.add_parser("sources", help="the bill sources and how far each is synced")
    sources.set_defaults(run=run_sources)
    add = sub.add_parser("add", help="add (or replace) a provider cost API source")
    add.add_argument("name")
    add.add_argument("--kind", choices=("openai", "anthropic"), required=True)
    add.add_argument("--admin-key-env", help="environment variable holding the provider's admin key")
    add.add_argument("--base-url", default="", help="default: the provider's own API")
    add.add_argument("--backfill-days", type=int, default=30)
    add.set_defaults(run=run_add)
    remove = sub.add_parser("remove", help="remove a source (its synced days stay)")
    remove.add_argument("name")
    remove.set_defaults(run=run_remove)
    sync = sub.add_parser("sync", help="sync now (every enabled API source, or --source)")
    sync.add_argument("--source")
    sync.add_argument("--days", type=int, help="backfill this many days (default: from the last sync)")
    sync.set_defaults(run=run_sync)
    imported = sub.add_parser("import", help="import a CSV or FOCUS bill")
    imported.add_argument("file", type=Path)
    imported.add_argument("--source", required=True, help="a name for this bill's source")
    imported.add_argument("--provider", help="the provider, when the file does not say")
    imported.set_defaults(run=run_import)
    reconcile = sub.add_parser("reconcile", help="billed against tracked, per day and provider, with causes")
    reconcile.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: 30 days ago)")
    reconcile.add_argument("--until", dest="end", help="end day, exclusive (default: tomorrow)")
    reconcile.add_argument("--provider")
    reconcile.set_defaults(run=run_reconcile)
    for action in sub.choices.values():
        add_server_flags(action, "an all-tenants key (admin; read for reconcile)")
        add_storage_flags(action)


def run_sources(args: argparse.Namespace) -> int:
    found = Api(args).call("GET", "/api/v1/bills/sources")["sources"]
    if not found:
        print("no bill sources (tiermix bills add NAME --kind openai --admin-key-env OPENAI_ADMIN_KEY)")
    for s in found:
        state = (
            f"error: {s['last_error']}" if s["last_error"] else f"synced through {s['synced_through'] or '-'}"
        )
        print(f"{s['name']:<24} {s['kind']:<10} key {s['admin_key'] or 'none':<5} {state}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    key = os.environ.get(args.admin_key_env or "", "")
    if args.admin_key_env and not key:
        raise BadRequest(f"--admin-key-env {args.admin_key_env}: that environment variable is not set")
    body = {"name": args.name, "kind": args.kind, "base_url": args.base_url, "admin_key": key,
            "backfill_days": args.backfill_days}  # fmt: skip
    source = Api(args).call("PUT", "/api/v1/bills/sources", body)
    print(f"bill source {source['name']} ({source['kind']}): admin key {source['admin_key'] or 'kept'}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    Api(args).call("DELETE", f"/api/v1/bills/sources/{urllib.parse.quote(args.name)}")
    print(f"bill source {args.name} removed")
    return 0


def run_sync(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.source:
        body["source"] = args.source
    if args.days:
        body["days"] = args.days
    failed = 0
    # a long backfill against a provider's API takes minutes: the sync runs in the request
    for r in Api(args).call("POST", "/api/v1/bills/sync", body, timeout_s=1800)["synced"]:
        if r["error"]:
            failed += 1
            print(f"{r['source']}: failed ({r['error']}); {r['days']} day(s) stored before it")
        else:
            print(f"{r['source']}: {r['days']} day(s) from {r['start']}, {r['lines']} line(s), "
                  f"{money(r['billed_usd'])}")  # fmt: skip
    return 1 if failed else 0


def run_import(args: argparse.Namespace) -> int:
    text = args.file.read_text(encoding="utf-8")
    query = urllib.parse.urlencode(
        {"source": args.source, **({"provider": args.provider} if args.provider else {})}
    )
    result = Api(args).call_text("POST", f"/api/v1/bills/import?{query}", text, "text/csv")
    left_out = ""
    if result["not_usage_rows"]:
        left_out = f"; {result['not_usage_rows']} non-usage row(s) (tax, credits) of "
        left_out += f"{money(result['not_usage_usd'])} left out"
    span = f"{result['days']} day(s) {result['first_day']} to {result['last_day']}"
    billed = f"{money(result['billed_usd'])} billed"
    print(f"{result['source']}: {result['rows']} {result['format']} row(s), {span}, {billed}{left_out}")
    return 0


def run_reconcile(args: argparse.Namespace) -> int:
    query = {k: v for k, v in (("start", args.start), ("end", args.end), ("provider", args.provider)) if v}
    found = Api(args).call("GET", "/api/v1/reconciliation?" + urllib.parse.urlencode(query))
    print(summary(found))
    return 0


def summary(found: dict[str, Any]) -> str:
    coverage = found["coverage"]
    lines = [
        f"{found['start']} to {found['end']} (end exclusive), sources: "
        + (", ".join(found["sources"]) or "none"),
        f"billed {money(found['billed_usd'])}, tracked {money(found['tracked_usd'])}: coverage "
        + (f"{coverage:.1%}" if coverage is not None else "n/a (nothing billed)")
        + f", gap {money(found['gap_usd'])}",
    ]
    for name, amount in sorted(found["causes"].items(), key=lambda item: -abs(item[1])):
        lines.append(f"  {money(amount):>10}  {name}: {CAUSES.get(name, name)}")
    lines.append(f"{'DAY':<11} {'PROVIDER':<16} {'BILLED':>11} {'TRACKED':>11} {'COVERAGE':>9}  CAUSES")
    for d in found["days"]:
        share = f"{d['coverage']:.1%}" if d["coverage"] is not None else "n/a"
        causes = ", ".join(f"{k} {money(v)}" for k, v in d["causes"].items())
        figures = f"{money(d['billed_usd']):>11} {money(d['tracked_usd']):>11}"
        lines.append(f"{d['day']:<11} {d['provider']:<16} {figures} {share:>9}  {causes}")
    return "\n".join(lines)
