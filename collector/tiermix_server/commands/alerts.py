"""``tiermix alerts create|list|show|test|silence|delete|enable|disable|run``.

Every subcommand except ``run`` works on the metadata DB directly (SQLite in WAL mode and PostgreSQL
both take several processes), so it is safe while a collector runs. ``run`` is a standalone evaluator:
it also needs ClickHouse, and an embedded data dir held by a running server is reported as such (that
server already evaluates alerts; the lease makes a second evaluator wait as a standby anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from tiermix_server.commands.common import add_storage_flags, settings_from
from tiermix_server.errors import BadRequest, DataDirInUse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("alerts", help="manage alert rules, silences, and run the evaluator")
    sub = parser.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)

    create = sub.add_parser("create", help="create a rule from a JSON file ('-' for stdin) or --json")
    create.add_argument("file", nargs="?", help="rule JSON file, or '-' for stdin")
    create.add_argument("--json", dest="json_text", help="the rule as a JSON string")
    create.set_defaults(run=run_create)

    sub.add_parser("list", help="list rules and their firing groups").set_defaults(run=run_list)

    for name, helptext, func in (
        ("show", "show one rule (secrets hidden), its states and recent events", run_show),
        ("test", "send a test notification to each channel of a rule", run_test),
        ("delete", "delete a rule with its states and history", run_delete),
        ("enable", "enable a rule", run_enable),
        ("disable", "disable a rule", run_disable),
    ):
        action = sub.add_parser(name, help=helptext)
        action.add_argument("rule", help="rule id or name")
        action.set_defaults(run=func)

    silence = sub.add_parser("silence", help="mute notifications of a rule (or all rules) for a while")
    silence.add_argument("rule", help="rule id or name, or 'all'")
    silence.add_argument("--for", dest="duration", default="1h", help="how long, e.g. 30m, 2h (default 1h)")
    silence.add_argument("--tenant", help="only this tenant's group")
    silence.add_argument("--route", help="only this route's group")
    silence.add_argument("--comment", default="", help="why (kept with the silence)")
    silence.set_defaults(run=run_silence)

    run = sub.add_parser("run", help="run the evaluator in this process (standalone, leader-elected)")
    run.add_argument("--interval", type=float, help="seconds between evaluations (TIERMIX_ALERTS_INTERVAL_S)")
    run.add_argument("--once", action="store_true", help="evaluate once and exit")
    run.set_defaults(run=run_evaluator)

    for action in sub.choices.values():
        add_storage_flags(action)


def _meta(args: argparse.Namespace, **extra: Any) -> Any:
    from tiermix_server.meta.db import open_meta

    return open_meta(settings_from(args, **extra))


def _print_json(value: Any) -> None:
    from tiermix_server.api.render import plain

    print(json.dumps(plain(value), indent=2))


def run_create(args: argparse.Namespace) -> int:
    from tiermix_server.alerts.channel_secrets import with_generated_secrets
    from tiermix_server.alerts.rule_view import rule_json
    from tiermix_server.alerts.rules import parse_rule
    from tiermix_server.alerts.store import create_rule

    if args.json_text:
        text = args.json_text
    elif args.file == "-":
        text = sys.stdin.read()
    elif args.file:
        with open(args.file, encoding="utf-8") as handle:
            text = handle.read()
    else:
        raise BadRequest("give a rule file, '-' for stdin, or --json '{...}'")
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"the rule is not valid JSON: {exc}") from None
    rule = create_rule(_meta(args), parse_rule(with_generated_secrets(body)))
    print(f"created rule {rule.id} ({rule.name}); webhook secrets are shown only now:", file=sys.stderr)
    _print_json(rule_json(rule, show_secrets=True))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from tiermix_server.alerts.store import list_rules, list_states

    meta = _meta(args)
    firing: dict[int, int] = {}
    for state in list_states(meta):
        if state["state"] == "firing":
            firing[state["rule_id"]] = firing.get(state["rule_id"], 0) + 1
    rules = list_rules(meta)
    if not rules:
        print("no alert rules (create one with `tiermix alerts create rule.json`)")
        return 0
    print(f"{'ID':>4}  {'NAME':<28} {'METRIC':<17} {'CONDITION':<16} {'GROUP BY':<13} {'ON':<3} FIRING")
    for rule in rules:
        spec = rule.spec
        condition = f"{spec.condition.op} {spec.condition.threshold:g}"
        if spec.condition.kind != "static":
            condition += f" ({spec.condition.kind})"
        enabled = "yes" if rule.enabled else "no"
        print(
            f"{rule.id:>4}  {rule.name[:28]:<28} {spec.metric:<17} {condition:<16} "
            f"{','.join(spec.group_by) or '-':<13} {enabled:<3} {firing.get(rule.id, 0)}"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from tiermix_server.alerts.rule_view import rule_json
    from tiermix_server.alerts.store import find_rule, list_events, list_states

    meta = _meta(args)
    rule = find_rule(meta, args.rule)
    _print_json(
        {
            "rule": rule_json(rule),
            "states": list_states(meta, rule.id),
            "events": list_events(meta, rule_id=rule.id, limit=20),
        }
    )
    return 0


def run_test(args: argparse.Namespace) -> int:
    from tiermix_server.alerts.service import send_test
    from tiermix_server.alerts.store import find_rule

    settings = settings_from(args)
    meta = _meta(args)
    rule = find_rule(meta, args.rule)
    if not rule.spec.channels:
        print(f"rule {rule.name!r} has no channels: nothing to send")
        return 1
    deliveries = asyncio.run(send_test(meta, rule, settings.dashboard_url, settings.channel_allow))
    for delivery in deliveries:
        print(f"{delivery.channel_id}: {'sent' if delivery.ok else 'FAILED: ' + delivery.error}")
    return 0 if all(delivery.ok for delivery in deliveries) else 1


def run_delete(args: argparse.Namespace) -> int:
    from tiermix_server.alerts.store import delete_rule, find_rule

    meta = _meta(args)
    rule = find_rule(meta, args.rule)
    delete_rule(meta, rule.id)
    print(f"deleted rule {rule.id} ({rule.name})")
    return 0


def _set_enabled(args: argparse.Namespace, enabled: bool) -> int:
    from tiermix_server.alerts.store import find_rule, replace_rule

    meta = _meta(args)
    rule = find_rule(meta, args.rule)
    replace_rule(meta, rule.id, rule.spec.model_copy(update={"enabled": enabled}))
    print(f"rule {rule.id} ({rule.name}) {'enabled' if enabled else 'disabled'}")
    return 0


def run_enable(args: argparse.Namespace) -> int:
    return _set_enabled(args, True)


def run_disable(args: argparse.Namespace) -> int:
    return _set_enabled(args, False)


def run_silence(args: argparse.Namespace) -> int:
    from tiermix_server.alerts.rules import parse_duration
    from tiermix_server.alerts.store import create_silence, find_rule

    meta = _meta(args)
    rule_id = None if args.rule == "all" else find_rule(meta, args.rule).id
    try:
        seconds = parse_duration(args.duration)
    except ValueError as exc:
        raise BadRequest(f"--for: {exc}") from None
    group = {key: value for key, value in (("tenant", args.tenant), ("route", args.route)) if value}
    now = datetime.now(timezone.utc)
    silence = create_silence(
        meta, rule_id=rule_id, group=group, starts_at=now, ends_at=now + timedelta(seconds=seconds),
        created_by="cli", comment=args.comment,
    )  # fmt: skip
    scope = f"rule {rule_id}" if rule_id is not None else "all rules"
    print(f"silence {silence.id}: {scope}, {group or 'all groups'}, until {silence.ends_at.isoformat()}")
    return 0


def run_evaluator(args: argparse.Namespace) -> int:
    from tiermix_server.alerts.service import build_evaluator
    from tiermix_server.meta.db import open_meta
    from tiermix_server.runtime import Runtime
    from tiermix_server.store.clickhouse import connect
    from tiermix_server.store.migrate import migrate

    settings = settings_from(args, alerts_interval_s=args.interval)
    runtime = Runtime(settings=settings)
    try:
        runtime.clickhouse = connect(settings)
    except DataDirInUse as exc:
        raise DataDirInUse(
            f"{exc}. A collector running on this data dir already evaluates alerts "
            "(TIERMIX_ALERTS_ENABLED); `tiermix alerts run` is for a ClickHouse server deployment"
        ) from None
    migrate(runtime.clickhouse, settings)  # a fresh data dir evaluates to no_data, not to errors
    runtime.meta = open_meta(settings)
    evaluator = build_evaluator(runtime)

    async def main() -> None:
        if args.once:
            report = await evaluator.run_once()
            if not report.leader:
                print("another evaluator holds the lease; nothing evaluated")
            else:
                print(f"evaluated {report.rules} rules: {report.transitions} transitions, "
                      f"{len(report.deliveries)} notifications, {len(report.errors)} errors")  # fmt: skip
            if evaluator.lease is not None:
                await asyncio.to_thread(evaluator.lease.release)
            return
        print(
            f"tiermix alerts: evaluating every {settings.alerts_interval_s:g}s (Ctrl-C to stop)", flush=True
        )
        await evaluator.run_forever(settings.alerts_interval_s, asyncio.Event())

    asyncio.run(main())
    return 0
