"""``tiermix demo``: realistic LLM traffic through the real SDK to a running collector.

``tiermix demo --backfill 7 --duration 0`` writes a week of history and stops; without ``--duration``
live traffic continues until Ctrl-C or SIGTERM (both stop it cleanly: what was recorded is flushed).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from tiermix_server.errors import SettingsError

STOP_FLUSH_TIMEOUT_S = 5.0


def register(commands: argparse._SubParsersAction) -> None:
    from tiermix_server.demo.runner import DEFAULT_RATE_PER_S, DEFAULT_SEED

    parser = commands.add_parser("demo", help="send realistic demo traffic through the SDK to a collector")
    parser.add_argument(
        "--endpoint",
        help="collector base URL (TIERMIX_ENDPOINT, default http://127.0.0.1:4318)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE_PER_S,
        help=f"mean requests per second over a week (default {DEFAULT_RATE_PER_S}); a request is 1-5 calls",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds of live traffic after the backfill (default: until stopped; 0: none)",
    )
    parser.add_argument(
        "--backfill", type=float, default=0.0, metavar="DAYS", help="days of history to write first"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="traffic seed (same seed, same traffic)"
    )
    parser.add_argument("--api-key", help="ingest key (TIERMIX_API_KEY), needed once the collector has keys")
    parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tiermix_server.demo.runner import DemoPlan
    from tiermix_server.demo.runner import run as run_demo
    from tiermix_server.demo.sender import FLUSH_TIMEOUT_S, SdkSender

    if args.rate <= 0:
        raise SettingsError("--rate must be positive")
    if args.backfill < 0 or (args.duration is not None and args.duration < 0):
        raise SettingsError("--backfill and --duration cannot be negative")
    # The entry point is the one place that reads the environment (the SDK's own variables).
    endpoint = args.endpoint or os.environ.get("TIERMIX_ENDPOINT") or "http://127.0.0.1:4318"
    api_key = args.api_key or os.environ.get("TIERMIX_API_KEY") or None
    _check_reachable(endpoint)
    plan = DemoPlan(
        rate_per_s=args.rate, backfill_days=args.backfill, duration_s=args.duration, seed=args.seed
    )
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sender = SdkSender(endpoint, api_key, seed=args.seed)
    print(f"tiermix demo: sending to {endpoint} (seed {args.seed}, {args.rate:g} requests/s)", flush=True)
    delivered: int | None = None
    try:
        stats = run_demo(plan, sender, stop=stop, stream=sys.stderr, show_progress=not args.no_progress)
    except KeyboardInterrupt:
        stop.set()
        print("tiermix demo: interrupted, flushing what was recorded", file=sys.stderr)
        return 130
    finally:
        # A stopped demo (Ctrl-C, SIGTERM from `tiermix up`) flushes briefly: its collector may be gone.
        timeout_s = STOP_FLUSH_TIMEOUT_S if stop.is_set() else FLUSH_TIMEOUT_S
        sender.flush(timeout_s)
        delivered = sender.calls_delivered
        sender.close(timeout_s)
        signal.signal(signal.SIGTERM, previous)
    print(
        f"tiermix demo: sent {stats.backfill_calls + stats.live_calls:,} calls "
        f"({stats.backfill_requests + stats.live_requests:,} requests)"
        + (f", {delivered:,} delivered" if delivered is not None else ""),
        flush=True,
    )
    return 0


def _check_reachable(endpoint: str) -> None:
    """Fail in one line when nothing listens, instead of retrying every batch into the void.

    Any HTTP answer counts (an OpenTelemetry Collector in front has no ``/healthz`` and answers 404).
    """
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{endpoint.rstrip('/')}/healthz", timeout=5):
            pass
    except urllib.error.HTTPError:
        pass
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SettingsError(
            f"no collector answers at {endpoint} ({reason}): start one with `tiermix up`, or pass --endpoint"
        ) from None
