"""``tiermix up --demo``: once the server is up, backfill a week, keep live traffic flowing, add an alert.

The demo runs as a child process (``tiermix demo``) that sends over HTTP to this server's own port,
exactly like a real application: it has its own interpreter (no GIL contention with ingest) and its own
SDK runtime, and stopping the server stops it (SIGTERM, so it flushes what it recorded). Before starting
it, a background thread waits for ``/healthz``, skips the backfill when the data dir already holds the
last week (a second ``up --demo`` must not double the history), and creates the default alert rule —
frontier share per tenant above 30% — that the scripted spike on ``globex`` fires. Once the backfill is
in, it sets a monthly budget for ``acme`` whose month-end forecast is 96% of it (near overrun), and
imports a bill for the complete days of demo traffic with a small slice (3%) tiermix did not track.

The demo sends with the server's in-process ingest credential (``Runtime.process_ingest_key``, never
stored), so it keeps delivering when someone creates the first API key while it runs. When the server
has API keys at start, the rule and the history check use a short-lived admin key revoked right after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

from tiermix_server.demo.runner import DEFAULT_RATE_PER_S, DEFAULT_SEED
from tiermix_server.settings import Settings

log = logging.getLogger("tiermix.demo")

BACKFILL_DAYS = 7
DEFAULT_RULE_NAME = "demo: frontier share spike"
DEFAULT_RULE: dict[str, Any] = {
    "name": DEFAULT_RULE_NAME,
    "metric": "frontier_share",
    "group_by": ["tenant"],
    "window": "10m",
    "condition": {"op": ">", "threshold": 0.3},
    "min_volume": 30,
    "for": "30s",
    "severity": "warning",
    "channels": [],
}
_HEALTH_TIMEOUT_S = 120.0
# A monthly budget the demo sets once the backfill is in: its amount puts the month-end forecast at
# DEMO_BUDGET_FORECAST_SHARE of it, so the Budgets page shows one near overrun (docs/budgets.md).
DEMO_BUDGET_NAME = "demo: acme monthly"
DEMO_BUDGET_TENANT = "acme"
DEMO_BUDGET_FORECAST_SHARE = 0.96
_BACKFILL_POLL_S = 3.0
# The demo's bill: what the demo's providers "billed" for each complete day, a small slice more than
# tiermix tracked (as calls an uninstrumented service made would be), so the Bills page has a gap to explain.
DEMO_BILL_SOURCE = "demo-invoice"
DEMO_BILL_UNTRACKED = 0.03


def attach_demo(
    app: Any,
    settings: Settings,
    *,
    backfill_days: float = BACKFILL_DAYS,
    rate_per_s: float = DEFAULT_RATE_PER_S,
    seed: int = DEFAULT_SEED,
    rule: dict[str, Any] | None = None,
) -> None:
    """Wrap the app's lifespan so the demo starts after start-up and stops before shutdown.

    ``rule`` replaces ``DEFAULT_RULE`` (the alert created on first start), e.g. with a shorter ``for``.
    """
    original = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(inner_app: Any) -> AsyncIterator[Any]:
        async with original(inner_app) as state:
            demo = EmbeddedDemo(
                settings,
                app.state.runtime,
                backfill_days=backfill_days,
                rate_per_s=rate_per_s,
                seed=seed,
                rule=rule or DEFAULT_RULE,
            )
            app.state.demo = demo  # for `tiermix up` tests and embedders
            demo.start()
            try:
                yield state
            finally:
                await asyncio.to_thread(demo.stop)  # waits for the child: keep the event loop free

    app.router.lifespan_context = lifespan


class EmbeddedDemo:
    def __init__(
        self,
        settings: Settings,
        runtime: Any,
        *,
        backfill_days: float,
        rate_per_s: float,
        seed: int,
        rule: dict[str, Any] = DEFAULT_RULE,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.backfill_days = backfill_days
        self.rate_per_s = rate_per_s
        self.seed = seed
        self.rule = rule
        self.base_url = settings.api_url.rstrip("/")
        self.rule_created = threading.Event()
        self._stop = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tiermix-demo", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        with self._lock:
            child, self._child = self._child, None
        if child is not None and child.poll() is None:
            child.terminate()  # SIGTERM: the demo flushes what it recorded, then exits
            try:
                child.wait(timeout_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    @property
    def child(self) -> subprocess.Popen[bytes] | None:
        return self._child

    def _run(self) -> None:
        try:
            if not self._wait_healthy():
                return
            admin_key = self._setup_key()
            try:
                self._ensure_rule(admin_key)
                recent = self._has_recent_history(admin_key)
            finally:
                self._revoke(admin_key)
            backfill = 0.0 if recent else self.backfill_days
            if backfill == 0.0 and self.backfill_days:
                print("tiermix demo: the last week already has calls; skipping the backfill", flush=True)
            self._spawn(backfill, self.runtime.process_ingest_key)
            if self._ensure_budget():
                self._ensure_bill()
        except Exception:
            log.exception("the demo could not start; the server keeps running without it")

    def _wait_healthy(self) -> bool:
        deadline = time.monotonic() + _HEALTH_TIMEOUT_S
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            self._stop.wait(0.2)
        return False

    # -- keys: only when the server enforces them ---------------------------------------------------
    def _setup_key(self) -> str | None:
        from tiermix_server.meta.keys import any_active_key, create_key

        meta = getattr(self.runtime, "meta", None)
        if meta is None or not any_active_key(meta):
            return None
        return create_key(meta, scope="admin", tenant=None, name="tiermix up --demo (setup, revoked)").key

    def _revoke(self, key: str | None) -> None:
        if key is None:
            return
        from tiermix_server.meta.keys import revoke_key

        revoke_key(self.runtime.meta, key)

    # -- HTTP against our own API, like any client ---------------------------------------------------
    def _request(self, method: str, path: str, key: str | None, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def _ensure_rule(self, key: str | None) -> None:
        try:
            listed = self._request("GET", "/api/v1/alerts/rules", key)
            rules = listed.get("rules", listed) if isinstance(listed, dict) else listed
            name = self.rule["name"]
            if not any(isinstance(r, dict) and r.get("name") == name for r in rules or []):
                self._request("POST", "/api/v1/alerts/rules", key, self.rule)
                print(f"tiermix demo: created alert rule {name!r}", flush=True)
            self.rule_created.set()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("could not create the demo alert rule: %s", exc)

    def _ensure_budget(self) -> bool:
        """Once the backfill is in (the forecast stops moving), a month budget for acme near its forecast."""
        from tiermix_server.meta.budgets import create_budget, list_budgets, update_budget
        from tiermix_server.metrics.budgets import budget_statuses

        meta, client = self.runtime.meta, self.runtime.clickhouse
        if any(b.name == DEMO_BUDGET_NAME for b in list_budgets(meta)):
            return True
        values = {"name": DEMO_BUDGET_NAME, "tenant": DEMO_BUDGET_TENANT, "route": None, "period": "month",
                  "starts_on": None, "ends_on": None, "amount_usd": 1.0}  # fmt: skip
        probe = create_budget(meta, values)  # $1 until the forecast is known
        previous = 0.0
        while not self._stop.wait(_BACKFILL_POLL_S):
            forecast = budget_statuses(client, [probe])[0].forecast
            point = forecast.point if forecast is not None else 0.0
            if point > 0 and abs(point - previous) < 0.01 * point:
                amount = round(point / DEMO_BUDGET_FORECAST_SHARE, 2)
                update_budget(meta, probe.id, {"amount_usd": amount})
                share = f"{DEMO_BUDGET_FORECAST_SHARE:.0%}"
                print(f"tiermix demo: budget {DEMO_BUDGET_NAME!r} set at ${amount:,.2f} "
                      f"(the month-end forecast is {share} of it)", flush=True)  # fmt: skip
                return True
            previous = point
        return False

    def _ensure_bill(self) -> None:
        """A bill for each complete day of demo traffic: tracked cost and tokens, plus 3% untracked."""
        from datetime import date

        from tiermix_server.bills.bill import Bill, CostLine, UsageLine
        from tiermix_server.bills.store import write_bill
        from tiermix_server.meta import bill_sources

        meta, client = self.runtime.meta, self.runtime.clickhouse
        if any(s.name == DEMO_BILL_SOURCE for s in bill_sources.list_sources(meta)):
            return
        today = datetime.now(timezone.utc).date()
        rows = client.query(
            "SELECT toDate(bucket) AS day, provider, model, sum(cost_usd), sum(input_tokens), "
            "sum(output_tokens) FROM llm_calls_1h WHERE bucket < toDateTime({today:Date}, 'UTC') "
            "GROUP BY day, provider, model",
            parameters={"today": today},
        ).result_rows
        scale = 1 + DEMO_BILL_UNTRACKED
        days: set[date] = {row[0] for row in rows}
        bill = Bill(sorted(days))
        for day, provider, model, cost, tokens_in, tokens_out in rows:
            bill.lines.append(CostLine(day, provider, f"{model} usage", model, float(cost) * scale))
            bill.usage.append(
                UsageLine(day, provider, model, round(tokens_in * scale), round(tokens_out * scale), 0, 0)
            )
        write_bill(client, DEMO_BILL_SOURCE, bill)  # the bill first: a listed source already has its days
        bill_sources.put_source(meta, bill_sources.validate({"name": DEMO_BILL_SOURCE, "kind": "import"}))
        bill_sources.record_sync(meta, DEMO_BILL_SOURCE, synced_through=max(days) if days else None,
                                 at=datetime.now(timezone.utc), error="")  # fmt: skip
        extra = f"{DEMO_BILL_UNTRACKED:.0%}"
        print(f"tiermix demo: a bill for {len(days)} day(s) imported as {DEMO_BILL_SOURCE!r} "
              f"({extra} more than tiermix tracked: see the Bills page)", flush=True)  # fmt: skip

    def _has_recent_history(self, key: str | None) -> bool:
        start = (datetime.now(timezone.utc) - timedelta(days=self.backfill_days or 1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        try:
            summary = self._request("GET", f"/api/v1/summary?start={start}", key)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("could not read the summary (%s); backfilling anyway", exc)
            return False
        return bool(summary and summary.get("calls"))

    def _spawn(self, backfill_days: float, ingest_key: str | None) -> None:
        command = [
            sys.executable, "-m", "tiermix_server.cli", "demo",
            "--endpoint", self.base_url,
            "--backfill", f"{backfill_days:g}",
            "--rate", f"{self.rate_per_s:g}",
            "--seed", str(self.seed),
        ]  # fmt: skip
        # The server's TIERMIX_* settings are not the SDK's: a shared name (TIERMIX_SPOOL_DIR) would make
        # the demo's SDK spool into the collector's spool directory.
        env = {key: value for key, value in os.environ.items() if not key.startswith("TIERMIX_")}
        if ingest_key:
            env["TIERMIX_API_KEY"] = ingest_key  # the environment, not argv: argv is visible in ps
        with self._lock:
            if self._stop.is_set():
                return
            self._child = subprocess.Popen(command, env=env)
