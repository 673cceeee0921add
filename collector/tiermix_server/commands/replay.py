"""``tiermix capture set|list|remove`` and ``tiermix replay run|list|show|cancel|resume`` (docs/replay.md).

Capture policies are written to the metadata DB directly (like keys and alert rules): a running
collector applies them within seconds. Replay runs execute inside the server, so ``replay`` talks to
its API (``--server``, default this machine's ``TIERMIX_PORT``) with an admin key (``--api-key`` or
``TIERMIX_API_KEY``); ``run`` follows the run with a progress bar until it stops (Ctrl-C stops
following, not the run: ``tiermix replay show ID`` picks it up again).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from tiermix_server.commands.common import Api, add_server_flags, add_storage_flags, settings_from
from tiermix_server.errors import BadRequest

POLL_S = 0.5
BAR = 30


def register(commands: argparse._SubParsersAction) -> None:
    capture = commands.add_parser("capture", help="which routes keep content for shadow replay")
    csub = capture.add_subparsers(dest="capture_command", metavar="ACTION", required=True)
    set_ = csub.add_parser("set", help="capture a share of a tenant's route ('*': every route)")
    set_.add_argument("--tenant", required=True)
    set_.add_argument("--route", required=True)
    set_.add_argument("--rate", type=float, required=True, help="share of calls kept, e.g. 0.02")
    set_.set_defaults(run=run_capture_set)
    csub.add_parser("list", help="list capture policies").set_defaults(run=run_capture_list)
    remove = csub.add_parser("remove", help="stop capturing a route (captured content expires by TTL)")
    remove.add_argument("--tenant", required=True)
    remove.add_argument("--route", required=True)
    remove.set_defaults(run=run_capture_remove)
    for action in csub.choices.values():
        add_storage_flags(action)

    replay = commands.add_parser("replay", help="replay captured calls against a cheaper model")
    rsub = replay.add_subparsers(dest="replay_command", metavar="ACTION", required=True)
    run = rsub.add_parser("run", help="start a replay run and follow it")
    run.add_argument("--route", required=True)
    run.add_argument("--tenant", help="required with an all-tenants key")
    run.add_argument("--candidate", required=True, help="PROVIDER:MODEL, e.g. openai:gpt-4o-mini")
    run.add_argument("--base-url", help="an OpenAI-compatible server (vLLM, Ollama, LiteLLM) or a proxy")
    run.add_argument(
        "--candidate-key-env", help="environment variable holding the key for --base-url (sent, never stored)"
    )
    run.add_argument("--sample", type=int, default=100, help="captured calls to replay (default 100)")
    run.add_argument(
        "--judge",
        action="append",
        help="exact | normalized | json | json_schema:{…} | regex:P | keywords:a,b | numeric:TOL | "
        "llm:PROVIDER:MODEL | python:module:function (repeat to combine; default normalized)",
    )
    run.add_argument("--judge-mode", choices=("all", "any"), default="all")
    run.add_argument("--rubric", help="the LLM judge's rubric, or @file")
    run.add_argument("--judge-base-url", help="base URL for the LLM judge's model")
    run.add_argument("--max-cost", type=float, required=True, help="hard cap in USD (candidate + judges)")
    run.add_argument("--concurrency", type=int, default=4)
    run.add_argument("--rate", type=float, help="candidate requests started per second, at most")
    run.add_argument("--timeout", type=float, default=60.0, help="seconds per candidate request")
    run.add_argument("--max-retries", type=int, default=4)
    run.add_argument("--window-days", type=int, help="replay captures of the last N days only")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--detach", action="store_true", help="start the run and return")
    run.set_defaults(run=run_replay)
    rsub.add_parser("list", help="list replay runs").set_defaults(run=run_list)
    show = rsub.add_parser("show", help="a run's progress and result")
    show.add_argument("id", type=int)
    show.add_argument("--samples", type=int, default=0, help="also print the first N samples")
    show.add_argument("--follow", action="store_true", help="follow a running run with a progress bar")
    show.set_defaults(run=run_show)
    cancel = rsub.add_parser("cancel", help="stop a run (samples judged so far are kept)")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(run=run_cancel)
    resume = rsub.add_parser("resume", help="go on with an interrupted, capped or failed run")
    resume.add_argument("id", type=int)
    resume.add_argument("--candidate-key-env", help="the key it was started with, again")
    resume.add_argument("--max-cost", type=float, help="a new cap in USD")
    resume.set_defaults(run=run_resume)
    for action in rsub.choices.values():
        add_server_flags(action, "an admin key")
        add_storage_flags(action)


# ---- capture ------------------------------------------------------------------------------------------


def run_capture_set(args: argparse.Namespace) -> int:
    from tiermix_server.meta.capture_policies import set_policy
    from tiermix_server.meta.db import open_meta

    policy = set_policy(open_meta(settings_from(args)), args.tenant, args.route, args.rate)
    print(f"capturing {policy.sample_rate:.2%} of tenant {policy.tenant!r} route {policy.route!r}")
    return 0


def run_capture_list(args: argparse.Namespace) -> int:
    from tiermix_server.meta.capture_policies import list_policies
    from tiermix_server.meta.db import open_meta

    settings = settings_from(args)
    policies = list_policies(open_meta(settings))
    if not policies:
        print(
            "no capture policies: nothing is captured (tiermix capture set --tenant T --route R --rate 0.02)"
        )
        return 0
    print(f"{'TENANT':<24} {'ROUTE':<32} RATE")
    for p in policies:
        print(f"{p.tenant[:24]:<24} {p.route[:32]:<32} {p.sample_rate:.2%}")
    print(f"kept {settings.capture_ttl_days} days, at most {settings.capture_max_bytes:,} bytes per tenant")
    return 0


def run_capture_remove(args: argparse.Namespace) -> int:
    from tiermix_server.meta.capture_policies import delete_policy
    from tiermix_server.meta.db import open_meta

    delete_policy(open_meta(settings_from(args)), args.tenant, args.route)
    print(f"no longer capturing tenant {args.tenant!r} route {args.route!r}")
    return 0


# ---- replay -------------------------------------------------------------------------------------------


def _key_from_env(name: str | None) -> str | None:
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise BadRequest(f"--candidate-key-env {name}: that environment variable is not set")
    return value


def _judges(args: argparse.Namespace) -> list[dict[str, Any]]:
    from tiermix_server.replay.spec import judge_from_text

    rubric = args.rubric or ""
    if rubric.startswith("@"):
        with open(rubric[1:], encoding="utf-8") as handle:
            rubric = handle.read()
    judges = []
    for text in args.judge or ["normalized"]:
        judge = judge_from_text(text)
        if judge["kind"] == "json_schema" and text.startswith("json_schema:@"):
            with open(text.split("@", 1)[1], encoding="utf-8") as handle:
                judge["schema"] = json.load(handle)
        if judge["kind"] == "llm":
            judge["rubric"] = rubric
            if args.judge_base_url:
                judge["base_url"] = args.judge_base_url
        judges.append(judge)
    return judges


def run_replay(args: argparse.Namespace) -> int:
    api = Api(args)
    body: dict[str, Any] = {
        "route": args.route,
        "candidate": args.candidate,
        "judges": _judges(args),
        "judge_mode": args.judge_mode,
        "sample": args.sample,
        "max_cost_usd": args.max_cost,
        "concurrency": args.concurrency,
        "timeout_s": args.timeout,
        "max_retries": args.max_retries,
        "seed": args.seed,
    }
    optional = {
        "tenant": args.tenant,
        "base_url": args.base_url,
        "rate_per_s": args.rate,
        "window_days": args.window_days,
        "api_key": _key_from_env(args.candidate_key_env),
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    run = api.call("POST", "/api/v1/replays", body)
    print(
        f"replay run {run['id']}: {args.route} -> {args.candidate}, {args.sample} samples, "
        f"cap ${args.max_cost:g}"
    )
    if args.detach:
        return 0
    return _follow(api, run["id"])


def _follow(api: Api, run_id: int) -> int:
    try:
        while True:
            run = api.call("GET", f"/api/v1/replays/{run_id}")
            _progress(run)
            if run["status"] not in ("queued", "running"):
                break
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        print(f"\nstill running on the server: tiermix replay show {run_id} --follow", file=sys.stderr)
        return 130
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(summary(run))
    return 0 if run["status"] in ("done", "capped") else 1


def _progress(run: dict[str, Any]) -> None:
    p = run["progress"]
    planned = max(p["planned"], 1)
    filled = int(BAR * min(p["done"], planned) / planned)
    share = f" ({p['servable'] / p['judged']:.0%})" if p["judged"] else ""
    line = (
        f"[{'#' * filled}{'.' * (BAR - filled)}] {p['done']}/{p['planned']} · {p['servable']} servable{share}"
        f" · ${p['spent_usd']:.4f} of ${run['spec']['max_cost_usd']:g} · {p['retries']} retries"
        f" · {run['status']}"
    )
    if sys.stderr.isatty():
        print("\r" + line, end="", file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)


def summary(run: dict[str, Any]) -> str:
    """The run's result as a FinOps reader would quote it."""
    lines = [f"run {run['id']} {run['status']}" + (f": {run['error']}" if run.get("error") else "")]
    result = run.get("result") or {}
    servable = result.get("servable")
    if servable and servable.get("judged"):
        lines.append(
            f"servable by {result['candidate']}: {servable['share']:.1%} "
            f"(95% interval {servable['low']:.1%} to {servable['high']:.1%}) of {servable['judged']} judged"
            + (f", {servable['no_verdict']} without a verdict" if servable["no_verdict"] else "")
        )
    savings = result.get("monthly_savings_usd")
    if savings:
        moved = savings["moved"]
        lines.append(
            f"estimated saving if the servable share moves: ${moved['point']:,.2f}/month "
            f"(${moved['low']:,.2f} to ${moved['high']:,.2f}); candidate first for every request: "
            f"${savings['cascade']['point']:,.2f}/month"
        )
    latency = result.get("latency_ms")
    if latency and latency.get("candidate_p50") is not None:
        lines.append(
            f"latency p50/p95: candidate {latency['candidate_p50']:.0f}/{latency['candidate_p95']:.0f} ms, "
            f"production {latency['production_p50']:.0f}/{latency['production_p95']:.0f} ms"
        )
    cost = result.get("replay_cost_usd")
    if cost:
        retries = result.get("retries", {})
        lines.append(
            f"replay cost ${cost['total']:.4f} of ${cost['cap']:g} cap; {retries.get('total', 0)} retries"
            + (
                f" ({', '.join(f'{k}: {v}' for k, v in retries.get('by_reason', {}).items())})"
                if retries.get("by_reason")
                else ""
            )
        )
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    runs = Api(args).call("GET", "/api/v1/replays")["replays"]
    if not runs:
        print("no replay runs (tiermix replay run --route R --candidate openai:gpt-4o-mini --max-cost 5)")
        return 0
    print(f"{'ID':>4}  {'TENANT':<14} {'ROUTE':<24} {'CANDIDATE':<30} {'STATUS':<11} SERVABLE")
    for run in runs:
        p = run["progress"]
        share = f"{p['servable']}/{p['judged']}" if p["judged"] else "-"
        candidate = run["spec"]["candidate"]
        label = f"{candidate['provider']}:{candidate['model']}"
        print(f"{run['id']:>4}  {run['tenant'][:14]:<14} {run['route'][:24]:<24} {label[:30]:<30} "
              f"{run['status']:<11} {share}")  # fmt: skip
    return 0


def run_show(args: argparse.Namespace) -> int:
    api = Api(args)
    if args.follow:
        return _follow(api, args.id)
    run = api.call("GET", f"/api/v1/replays/{args.id}")
    print(summary(run))
    if args.samples:
        samples = api.call("GET", f"/api/v1/replays/{args.id}/samples?limit={min(args.samples, 500)}")[
            "samples"
        ]
        for s in samples:
            verdict = {1: "servable", 0: "not servable", -1: "no verdict"}[s["verdict"]]
            print(f"- {s['span_id']}: {verdict}; {', '.join(json.loads(s['reasons']) or [s['error']])}")
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    print(summary(Api(args).call("POST", f"/api/v1/replays/{args.id}/cancel", {})))
    return 0


def run_resume(args: argparse.Namespace) -> int:
    api = Api(args)
    body: dict[str, Any] = {}
    key = _key_from_env(args.candidate_key_env)
    if key is not None:
        body["api_key"] = key
    if args.max_cost is not None:
        body["max_cost_usd"] = args.max_cost
    run = api.call("POST", f"/api/v1/replays/{args.id}/resume", body)
    print(f"replay run {run['id']} resumed")
    return _follow(api, args.id)
