"""``tiermix budgets set|list|show|remove`` (docs/budgets.md): spend limits and their forecast.

Budgets are read against the running server's data, so these talk to its API (``--server``, default
this machine's ``TIERMIX_PORT``); ``set`` and ``remove`` need an admin key, ``list`` and ``show`` a read
key (``--api-key`` or ``TIERMIX_API_KEY``).
"""

from __future__ import annotations

import argparse
from typing import Any

from tiermix_server.commands.common import Api, add_server_flags, add_storage_flags, money


def register(commands: argparse._SubParsersAction) -> None:
    budgets = commands.add_parser(
        "budgets", help="spend limits per tenant / route, with a month-end forecast"
    )
    sub = budgets.add_subparsers(dest="budgets_command", metavar="ACTION", required=True)
    put = sub.add_parser("set", help="create a budget, or replace one (--id)")
    put.add_argument("--id", type=int, help="the budget to replace")
    put.add_argument("--tenant", help="the tenant (default: every tenant)")
    put.add_argument("--route", help="the route (default: every route)")
    put.add_argument("--amount", type=float, required=True, help="USD per period")
    put.add_argument("--name", default="")
    put.add_argument("--from", dest="starts_on", help="a custom period's first day, YYYY-MM-DD")
    put.add_argument("--until", dest="ends_on", help="a custom period's end (exclusive), YYYY-MM-DD")
    put.set_defaults(run=run_set)
    listed = sub.add_parser("list", help="every budget with its standing and forecast")
    listed.add_argument("--tenant")
    listed.set_defaults(run=run_list)
    show = sub.add_parser("show", help="one budget in full")
    show.add_argument("id", type=int)
    show.set_defaults(run=run_show)
    remove = sub.add_parser("remove", help="delete a budget")
    remove.add_argument("id", type=int)
    remove.set_defaults(run=run_remove)
    for action in sub.choices.values():
        add_server_flags(action, "a read key (set / remove: an admin key)")
        add_storage_flags(action)


def run_set(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"amount_usd": args.amount, "name": args.name}
    if args.tenant:
        body["tenant"] = args.tenant
    if args.route:
        body["route"] = args.route
    if args.starts_on or args.ends_on:
        body.update(period="custom", starts_on=args.starts_on, ends_on=args.ends_on)
    api = Api(args)
    status = (
        api.call("PUT", f"/api/v1/budgets/{args.id}", body)
        if args.id
        else api.call("POST", "/api/v1/budgets", body)
    )
    print(describe(status))
    return 0


def run_list(args: argparse.Namespace) -> int:
    path = "/api/v1/budgets" + (f"?tenant={args.tenant}" if args.tenant else "")
    statuses = Api(args).call("GET", path)["budgets"]
    if not statuses:
        print("no budgets (tiermix budgets set --tenant T --amount 500)")
        return 0
    head = f"{'ID':>4}  {'SCOPE':<32} {'PERIOD':<23} {'BUDGET':>11} {'SPENT':>11} {'FORECAST (95%)':>30}"
    print(head + "  RUNS OUT")
    for s in statuses:
        b = s["budget"]
        forecast = s["forecast"]
        projected = (
            f"{money(forecast['point_usd'])} ({money(forecast['low_usd'])}-{money(forecast['high_usd'])})"
            if forecast else "n/a"
        )  # fmt: skip
        runs_out = f"exceeded {s['exceeded_on']}" if s["exceeded_on"] else s["runs_out_on"] or "-"
        figures = f"{money(b['amount_usd']):>11} {money(s['spent_usd']):>11} {projected:>30}"
        period = f"{s['period_start']} to {s['period_end']}"
        print(f"{b['id']:>4}  {scope(b)[:32]:<32} {period}  {figures}  {runs_out}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    print(describe(Api(args).call("GET", f"/api/v1/budgets/{args.id}")))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    Api(args).call("DELETE", f"/api/v1/budgets/{args.id}")
    print(f"budget {args.id} removed")
    return 0


def scope(budget: dict[str, Any]) -> str:
    tenant = budget["tenant"] or "every tenant"
    return f"{tenant} / {budget['route']}" if budget["route"] else tenant


def describe(status: dict[str, Any]) -> str:
    """A budget's standing as a FinOps reader would quote it."""
    b = status["budget"]
    lines = [
        f"budget {b['id']} ({scope(b)}): {money(b['amount_usd'])} for {status['period_start']} to "
        f"{status['period_end']} (end exclusive)",
        f"spent {money(status['spent_usd'])} ({status['spent_ratio']:.0%})"
        + (
            f", burning {money(status['burn_rate_usd_per_day'])}/day"
            if status["burn_rate_usd_per_day"]
            else ""
        ),
    ]
    forecast = status["forecast"]
    if forecast:
        lines.append(
            f"forecast for the period (estimate): {money(forecast['point_usd'])} "
            f"({status['forecast_ratio']:.0%} of budget; 95% interval {money(forecast['low_usd'])} to "
            f"{money(forecast['high_usd'])}), from {forecast['history_days']} days of history"
        )
    if status["exceeded_on"]:
        lines.append(f"exceeded on {status['exceeded_on']}")
    elif status["runs_out_on"]:
        lines.append(f"projected to run out on {status['runs_out_on']}")
    if status["note"]:
        lines.append(status["note"])
    return "\n".join(lines)
