"""``tiermix up``, ``tiermix collector`` and ``tiermix dashboard``: the long-running processes.

``up`` is the embedded all-in-one: collector, query API and alerts in this process (chDB allows one
process per data dir) and the Streamlit dashboard as a child process that reads through the API. Ctrl-C
or SIGTERM stops both: uvicorn handles the signal, and the dashboard child is terminated on the way out.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import signal
import subprocess
import sys
from importlib import resources

from tiermix_server.commands.common import add_storage_flags, settings_from
from tiermix_server.errors import TiermixError
from tiermix_server.settings import Settings

DASHBOARD_MISSING = 'the dashboard is a separate distribution: pip install "tiermix-server[dashboard]"'


def register(commands: argparse._SubParsersAction) -> None:
    up = commands.add_parser("up", help="run collector, API, alerts and dashboard in one command")
    add_storage_flags(up)
    _add_listen_flags(up)
    up.add_argument("--dashboard-port", type=int, help="dashboard port (TIERMIX_DASHBOARD_PORT, 8501)")
    up.add_argument("--no-dashboard", action="store_true", help="run without the dashboard")
    up.add_argument(
        "--demo", action="store_true", help="backfill a week of demo data and keep demo traffic flowing"
    )
    up.set_defaults(run=run_up)

    collector = commands.add_parser("collector", help="run the collector (OTLP receiver, query API, alerts)")
    add_storage_flags(collector)
    _add_listen_flags(collector)
    collector.set_defaults(run=run_collector)

    dashboard = commands.add_parser("dashboard", help="run the Streamlit dashboard against a query API")
    dashboard.add_argument("--api-url", help="query API address (TIERMIX_API_URL)")
    dashboard.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    dashboard.add_argument("--dashboard-port", type=int, help="port (TIERMIX_DASHBOARD_PORT, 8501)")
    dashboard.set_defaults(run=run_dashboard)


def _add_listen_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (TIERMIX_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="OTLP/HTTP + API port (TIERMIX_PORT, default 4318)")
    parser.add_argument(
        "--insecure", action="store_true", default=None, help="allow a non-loopback address without API keys"
    )


def _listen_settings(args: argparse.Namespace) -> Settings:
    return settings_from(
        args,
        host=args.host,
        port=args.port,
        insecure=args.insecure,
        dashboard_port=getattr(args, "dashboard_port", None),
    )


def run_collector(args: argparse.Namespace) -> int:
    settings = _listen_settings(args)
    serve_collector(settings)
    return 0


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit`` so ``finally`` blocks run and stop the dashboard child.

    uvicorn handles SIGTERM itself while serving, then re-raises it once it has shut down; with the
    default disposition that re-raise would kill this process before it stops its child.
    """
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))


def run_up(args: argparse.Namespace) -> int:
    settings = _listen_settings(args)
    _exit_on_sigterm()
    dashboard = None
    if not args.no_dashboard:
        if dashboard_installed():
            dashboard = start_dashboard(settings)
        else:
            print(f"tiermix: running without a dashboard: {DASHBOARD_MISSING}", file=sys.stderr, flush=True)
    try:
        serve_collector(settings, demo=args.demo)
    finally:
        if dashboard is not None:
            stop_child(dashboard)
    return 0


def run_dashboard(args: argparse.Namespace) -> int:
    if not dashboard_installed():
        raise TiermixError(DASHBOARD_MISSING)
    settings = settings_from(args, api_url=args.api_url, dashboard_port=args.dashboard_port, host=args.host)
    _exit_on_sigterm()
    child = start_dashboard(settings)
    try:
        return child.wait()
    finally:
        stop_child(child)


def serve_collector(settings: Settings, *, demo: bool = False) -> None:
    import uvicorn

    from tiermix_server.app import create_app
    from tiermix_server.gc_pause import tune_for_serving
    from tiermix_server.http_server import CollectorServer
    from tiermix_server.security import check_listen_address

    check_listen_address(settings)
    app = create_app(settings, on_started=tune_for_serving)
    if demo:
        from tiermix_server.demo.embedded import attach_demo

        attach_demo(app, settings)
    print(f"tiermix collector: OTLP/HTTP and API on http://{settings.host}:{settings.port}", flush=True)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False, lifespan="on"
    )
    CollectorServer(config).run()


def dashboard_installed() -> bool:
    return importlib.util.find_spec("tiermix_dashboard") is not None


def start_dashboard(settings: Settings) -> subprocess.Popen[bytes]:
    script = resources.files("tiermix_dashboard") / "app.py"
    env = {**os.environ, "TIERMIX_API_URL": settings.api_url, "TIERMIX_DASHBOARD_URL": settings.dashboard_url}
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.port", str(settings.dashboard_port),
        "--server.address", settings.host if settings.host != "0.0.0.0" else "0.0.0.0",
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "minimal",
        # Streamlit runs a full gc.collect() after every script run by default; over the dashboard's heap
        # (pandas, Plotly) it held the GIL ~0.2 s before the page's last message went out
        # (docs/performance.md). Python's own collector still runs as usual.
        "--runner.postScriptGC", "false",
    ]  # fmt: skip
    print(f"tiermix dashboard: http://127.0.0.1:{settings.dashboard_port}", flush=True)
    return subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it if this process dies, even by SIGKILL (no orphans)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_child(child: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
