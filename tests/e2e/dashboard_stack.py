"""The whole system as a user runs it, for the dashboard's browser test and benchmark.

``tiermix up`` (collector + API + alerts + the Streamlit dashboard child) runs as a subprocess on free
ports with its own data dir; traffic goes in through the real OTLP path (the SDK in a subprocess, and
``tiermix demo``); pages are opened in Debian's headless Chromium driven by Playwright.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# url path → the page title the dashboard shows (h1)
PAGES = {
    "": "Overview", "tier_mix": "Tier mix", "cost": "Cost", "escalations": "Escalations", "drift": "Drift",
    "opportunities": "Opportunities", "replays": "Replays", "budgets": "Budgets", "bills": "Bills",
    "report": "Monthly report", "alerts": "Alerts", "prices": "Prices & tiers", "calls": "Calls",
}  # fmt: skip


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Stack:
    api_url: str
    dashboard_url: str
    log_path: Path


@contextlib.contextmanager
def tiermix_up(
    data_dir: Path, *, alerts_interval_s: float = 3600.0, startup_timeout_s: float = 90.0, demo: bool = False
) -> Iterator[Stack]:
    """``tiermix up`` (``--demo`` too, if asked) in a subprocess; stopped with SIGTERM (then SIGKILL)."""
    port, dashboard_port = free_port(), free_port()
    log_path = data_dir.parent / f"{data_dir.name}-up.log"
    command = [sys.executable, "-m", "tiermix_server.cli", "up", "--data-dir", str(data_dir),
               "--port", str(port), "--dashboard-port", str(dashboard_port)]  # fmt: skip
    command += ["--demo"] if demo else []
    env = {**os.environ, "TIERMIX_ALERTS_INTERVAL_S": str(alerts_interval_s)}
    env.pop("TIERMIX_API_KEY", None)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    stack = Stack(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{dashboard_port}", log_path)
    try:
        _wait_ok(f"{stack.api_url}/healthz", process, startup_timeout_s, log_path)
        _wait_ok(f"{stack.dashboard_url}/_stcore/health", process, startup_timeout_s, log_path)
        yield stack
    finally:
        stop_group(process)


@contextlib.contextmanager
def dashboard_only(api_url: str, log_dir: Path, *, startup_timeout_s: float = 60.0) -> Iterator[str]:
    """The Streamlit dashboard alone (as ``tiermix dashboard`` runs it) against ``api_url``."""
    port = free_port()
    log_path = log_dir / "dashboard-only.log"
    command = [sys.executable, "-m", "tiermix_server.cli", "dashboard", "--api-url", api_url,
               "--dashboard-port", str(port)]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_ok(f"http://127.0.0.1:{port}/_stcore/health", process, startup_timeout_s, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """SIGTERM the command, then whatever is left of the session it leads (its Streamlit child).

    The process was started with ``start_new_session``, so its group holds only what it started; a child
    that outlives its parent (a killed ``tiermix up`` leaves its dashboard) is ended with it.
    """
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)


def _wait_ok(url: str, process: subprocess.Popen[bytes], timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tiermix up exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout_s}s:\n{log_path.read_text()[-3000:]}")


def send_known_calls(api_url: str, *, tenant: str, requests: int) -> None:
    """``requests`` decorated gpt-4o-mini calls through the real SDK (in a subprocess: the SDK is
    process-global), flushed before returning."""
    script = textwrap.dedent(f"""
        import tiermix
        from openai.types.chat import ChatCompletion

        def completion():
            return ChatCompletion.model_validate({{
                "id": "chatcmpl-e2e", "object": "chat.completion", "created": 1760000000,
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [{{"index": 0, "finish_reason": "stop",
                              "message": {{"role": "assistant", "content": "ok"}}}}],
                "usage": {{"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}},
            }})

        tiermix.init(endpoint={api_url!r}, service="e2e", environment="test")

        @tiermix.observe(route="support.answer")
        def answer():
            return completion()

        with tiermix.context(tenant={tenant!r}):
            for _ in range({requests}):
                answer()
        assert tiermix.flush(timeout_s=30), "the SDK could not deliver"
        tiermix.shutdown()
    """)
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=120)


def send_tiny_tenant_calls(api_url: str, *, tenant: str, requests: int = 4) -> None:
    """A tenant whose every amount is a fraction of a cent: ``requests`` cheap gpt-4o-mini calls of a
    few dozen tokens, one of them a cascade that escalates to the top tier (so escalation figures are
    non-zero too), through the real SDK in a subprocess, flushed before returning."""
    script = textwrap.dedent(f"""
        import tiermix

        tiermix.init(endpoint={api_url!r}, service="tiny", environment="production")
        with tiermix.context(tenant={tenant!r}):
            for _ in range({requests}):
                with tiermix.call(model="gpt-4o-mini", provider="openai", route="support.answer") as c:
                    c.set_usage(input_tokens=40, output_tokens=12)
            with tiermix.cascade(route="support.answer") as cascade:
                with tiermix.call(model="gpt-4o-mini", provider="openai") as c:
                    c.set_usage(input_tokens=40, output_tokens=12)
                cascade.escalate("verification_failed", detail="tiny")
                with tiermix.call(model="gpt-4o", provider="openai") as c:
                    c.set_usage(input_tokens=40, output_tokens=12)
        assert tiermix.flush(timeout_s=30), "the SDK could not deliver"
        tiermix.shutdown()
    """)
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=120)


def send_demo_traffic(api_url: str, *, days: float, rate_per_s: float) -> None:
    """A backfill of realistic traffic (cascades, drift, new models) through ``tiermix demo``."""
    command = [sys.executable, "-m", "tiermix_server.cli", "demo", "--endpoint", api_url, "--backfill",
               str(days), "--duration", "0", "--rate", str(rate_per_s), "--no-progress"]  # fmt: skip
    subprocess.run(command, cwd=REPO, check=True, timeout=600, capture_output=True)


def launch_browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)


_SETTLED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
    if (document.querySelector('[data-testid="stSkeleton"]')) return false;
    const charts = document.querySelectorAll('.stPlotlyChart, [data-testid="stPlotlyChart"]');
    for (const chart of charts) { if (!chart.querySelector('.main-svg')) return false; }
    return true;
}"""


def open_page(
    page: Any, base_url: str, path: str, *, query: str = "", title: str | None = None, timeout_s: float = 60.0
) -> float:
    """Open a dashboard page and wait until it has fully rendered; returns the seconds it took."""
    _count_frames(page)
    started = time.perf_counter()
    page.goto(f"{base_url}/{path}{query}")
    page.locator("h1").filter(has_text=title or PAGES[path]).first.wait_for(timeout=timeout_s * 1000)
    return _settle(page, started, timeout_s)


_WATCH_RUNS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__tiermixRuns = [];
    window.__tiermixChanges = 0;
    (window.__tiermixObservers || []).forEach((observer) => observer.disconnect());
    // Callbacks come batched: keep each change's *old* value, so a quick running -> notRunning is seen;
    // and count content changes, so a run too quick to flip the state attribute is seen too.
    const states = new MutationObserver((changes) =>
        changes.forEach((change) => window.__tiermixRuns.push(change.oldValue)));
    states.observe(document.body, {attributes: true, attributeOldValue: true, subtree: true,
                                   attributeFilter: ['data-test-script-state']});
    const content = new MutationObserver((changes) => { window.__tiermixChanges += changes.length; });
    content.observe(document.querySelector('[data-testid="stMain"]') || app,
                    {childList: true, characterData: true, subtree: true});
    window.__tiermixObservers = [states, content];
}"""
_RUN_FINISHED = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const ran = (window.__tiermixRuns || []).includes('running') || window.__tiermixChanges > 0;
    return ran && app.getAttribute('data-test-script-state') === 'notRunning';
}"""


def rerender(page: Any, button: str = "Refresh data", timeout_s: float = 60.0) -> float:
    """Click ``button`` (the dashboard's: clear cached answers, run the page again); seconds until the
    page has fully rendered again. A MutationObserver sees the run start and end, however short."""
    page.evaluate(_WATCH_RUNS)
    started = time.perf_counter()
    page.get_by_role("button", name=button).click()
    # A run too quick to be seen still ends settled; the settle check below then waits for the rest.
    with contextlib.suppress(Exception):
        page.wait_for_function(_RUN_FINISHED, timeout=5000)
    return _settle(page, started, timeout_s)


def rerun_warm(page: Any, timeout_s: float = 60.0) -> float:
    """Run the page again with its cached answers (Streamlit's "r" shortcut, as a widget change to a
    value seen before does); seconds until it has fully rendered again."""
    frames = _FRAMES[page]
    for _attempt in range(3):
        page.evaluate(_WATCH_RUNS)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")  # keys to the app
        before = frames[0]
        started = time.perf_counter()
        page.keyboard.press("r")
        if _ran(page, frames, before, within_s=5.0):  # it must have run: no silent 0 s
            return _settle(page, started, timeout_s)
        page.locator("h1").first.click()  # the key went nowhere (focus still in a widget): try again
    raise TimeoutError(f"{page.url} did not rerun on Streamlit's 'r' shortcut")


# Frames each page's Streamlit connection received (``open_page`` starts counting): a run that leaves
# the page as it was, quicker than the state attribute can show, is still seen by the messages it sends.
_FRAMES: weakref.WeakKeyDictionary[Any, list[int]] = weakref.WeakKeyDictionary()
_QUIET_S = 0.1


def _count_frames(page: Any) -> None:
    if page in _FRAMES:
        return
    received = _FRAMES[page] = [0]

    def on_frame(_payload: Any) -> None:
        received[0] += 1

    page.on("websocket", lambda socket: socket.on("framereceived", on_frame))


def _ran(page: Any, frames: list[int], before: int, within_s: float) -> bool:
    """Whether a run started since ``frames`` was ``before`` and has ended: the state attribute or the
    content changed (``_RUN_FINISHED``), or messages came and then stopped for ``_QUIET_S``."""
    deadline = time.perf_counter() + within_s
    last, quiet_since = frames[0], time.perf_counter()
    while time.perf_counter() < deadline:
        if page.evaluate(_RUN_FINISHED):
            return True
        if frames[0] != last:
            last, quiet_since = frames[0], time.perf_counter()
        elif last > before and time.perf_counter() - quiet_since >= _QUIET_S:
            return True
        page.wait_for_timeout(20)
    return False


def _settle(page: Any, started: float, timeout_s: float) -> float:
    elements = -1
    while time.perf_counter() - started < timeout_s:
        page.wait_for_function(_SETTLED, timeout=timeout_s * 1000)
        count = page.locator('[data-testid="stElementContainer"]').count()
        if count == elements:
            return time.perf_counter() - started - 0.15  # the last check waited one quiet interval
        elements = count
        page.wait_for_timeout(150)
    raise TimeoutError(f"{page.url} did not finish rendering in {timeout_s}s")


# Text a FinOps reader must never see: a missing value printed as a value.
_UNREADABLE = re.compile(r"(?<![\w.])(None|nan|NaN)(?![\w.])")


def visible_text(page: Any) -> str:
    """The main area's text outside charts and tables (those are checked apart)."""
    return str(
        page.evaluate(
            """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            if (!main) return '';
            const copy = main.cloneNode(true);
            copy.querySelectorAll('.stPlotlyChart, [data-testid="stDataFrame"], [data-testid="stCode"]')
                .forEach((node) => node.remove());
            return copy.innerText;
        }"""
        )
    )


def readability_problems(page: Any) -> list[str]:
    """Everything on the rendered page a reader would trip on: "None"/"nan" in text, a table cell that
    Streamlit would draw as "None" (an empty cell in its accessible grid), a Streamlit exception, an
    error box, and the chart titles that say "No data in this range"."""
    problems = [f"unreadable {match!r}" for match in _UNREADABLE.findall(visible_text(page))]
    problems += _table_cell_problems(page)
    selector = '[data-testid="stException"], [data-testid="stAlertContentError"]'
    problems += [f"error: {text[:300]}" for text in page.locator(selector).all_inner_texts()]
    for chart in page.locator(".stPlotlyChart").all():
        if chart.locator("text", has_text="No data in this range").count():
            title = chart.locator(".gtitle").all_text_contents()
            problems.append(f"empty chart: {title[0] if title else '(untitled)'}")
    return problems


def _table_cell_problems(page: Any, patience_s: float = 5.0) -> list[str]:
    """Cells of every table that read as a missing value, once the tables have drawn their text.

    Streamlit's grid draws on a canvas and fills the accessible table behind it afterwards: on a busy
    machine a row can be read before its text is in (a CI run found all 11 cells of a row reading ''
    while its screenshot, a moment later, showed every value). A cell that still reads empty after
    ``patience_s`` is reported.
    """
    deadline = time.monotonic() + patience_s
    while True:
        problems = []
        for table in page.locator('[data-testid="stDataFrame"] table').all():
            cells = [cell.strip() for cell in table.locator("td").all_inner_texts()]
            problems += [
                f"a table cell reads {cell!r}" for cell in cells if cell in ("", "None", "nan", "NaN")
            ]
        if not problems or time.monotonic() > deadline:
            return problems
        page.wait_for_timeout(250)


def zero_amount_metrics(page: Any) -> dict[str, str]:
    """Metric label → value, for every KPI that reads exactly "$0.00"."""
    found = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        value = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
        if value in ("$0.00", "-$0.00"):
            found[metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()] = value
    return found


def screenshot(page: Any, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to fit it."""
    height = page.evaluate(
        "() => { const main = document.querySelector('[data-testid=\"stMain\"]');"
        " return main ? main.scrollHeight : document.body.scrollHeight; }"
    )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height) + 40)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
