"""Regenerate the dashboard screenshots in docs/img/ (one per page) from a fresh ``tiermix up --demo``.

    python scripts/screenshots.py [--out docs/img] [--only overview,report]

What it does, as a user would: ``tiermix up --demo`` on a temporary data dir (a week of demo traffic,
the scripted frontier spike firing its alert, a budget and an imported bill), then the README's shadow
replay against the test suite's fake provider (tests/fakes/quiz_provider.py: 200 captured questions on
route ``faq.answer``, replayed on the small model), so the Replays page has a run to show. Each page is
then opened in headless Chromium (Debian's, scripts/install_browser.sh) and saved whole, plus the
Monthly report printed to PDF as the browser prints it. Takes about three minutes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from tests.e2e.dashboard_stack import (  # noqa: E402
    PAGES,
    Stack,
    launch_browser,
    open_page,
    screenshot,
    tiermix_up,
)
from tests.fakes.quiz_provider import QuizProvider  # noqa: E402

REPLAY_ROUTE = "faq.answer"


def wait_for(what: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise TimeoutError(f"gave up waiting for {what} after {timeout_s:.0f}s")


def demo_ready(stack: Stack) -> bool:
    """The week is in, the bill imported and the scripted spike firing."""
    log = stack.log_path.read_text(errors="replace")
    if "imported as 'demo-invoice'" not in log:
        return False
    states = httpx.get(f"{stack.api_url}/api/v1/alerts/states", timeout=30).json().get("states", [])
    return any(state["state"] == "firing" for state in states)


def run_replay(stack: Stack) -> None:
    """The README's worked example, smaller: capture a route, replay it on the small model."""
    api = stack.api_url
    policy = {"tenant": "acme", "route": REPLAY_ROUTE, "sample_rate": 1}
    httpx.put(f"{api}/api/v1/capture/policies", json=policy, timeout=30).raise_for_status()
    time.sleep(6)  # collectors pick a policy up within 5 s
    with QuizProvider() as provider:
        subprocess.run(
            [sys.executable, "-m", "tests.support.quiz_traffic", "--endpoint", api, "--provider",
             provider.base_url, "--questions", "200", "--route", REPLAY_ROUTE, "--tenant", "acme"],
            cwd=REPO, check=True, timeout=300, capture_output=True,
        )  # fmt: skip
        body = {
            "tenant": "acme",
            "route": REPLAY_ROUTE,
            "candidate": "anthropic:claude-3-5-haiku-latest",
            "base_url": provider.base_url,
            "api_key": "test",
            "judges": ["normalized"],
            "sample": 100,
            "max_cost_usd": 2,
        }
        run = httpx.post(f"{api}/api/v1/replays", json=body, timeout=60).json()

        def finished() -> bool:
            status = httpx.get(f"{api}/api/v1/replays/{run['id']}", timeout=30).json()["status"]
            return status in ("done", "capped", "failed", "cancelled")

        wait_for("the replay run", finished, 300)


def shoot(stack: Stack, out: Path, wanted: set[str]) -> None:
    """Every page (or the ``wanted`` ones) saved whole, and the Monthly report printed to PDF."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            for path in PAGES:
                name = path or "overview"
                if wanted and name not in wanted:
                    continue
                seconds = open_page(page, stack.dashboard_url, path)
                screenshot(page, out / f"{name}.png")
                print(f"{name}: rendered in {seconds:.1f}s -> {out / f'{name}.png'}", flush=True)
            if not wanted or "report" in wanted:
                open_page(page, stack.dashboard_url, "report", query="?tenant=acme")
                page.emulate_media(media="print")
                page.pdf(path=str(out / "report-acme.pdf"), format="A4", print_background=True)
                print(f"report: printed -> {out / 'report-acme.pdf'}", flush=True)
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--only", default="", help="comma-separated page names (overview, tier_mix, ...)")
    args = parser.parse_args()
    wanted = {name for name in args.only.split(",") if name}
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="tiermix-shots-") as scratch,
        tiermix_up(Path(scratch) / "data", alerts_interval_s=5, demo=True) as stack,
    ):
        print(f"tiermix up --demo: API {stack.api_url}, dashboard {stack.dashboard_url}", flush=True)
        wait_for("the demo week, its bill and its alert", lambda: demo_ready(stack), 600)
        if not wanted or "replays" in wanted:
            run_replay(stack)
        shoot(stack, args.out, wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
