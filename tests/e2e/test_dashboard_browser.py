"""The dashboard as a user sees it: ``tiermix up`` with demo traffic, every page in headless Chromium.

Traffic goes through the real OTLP path: a day of ``tiermix demo`` backfill plus a known batch of SDK
calls for tenant ``e2e-known``, whose request count the Overview must show. Each page is opened, must
render without a Streamlit error or exception, and is saved as a screenshot in ``tests/e2e/artifacts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dashboard_stack import (
    CHROMIUM,
    PAGES,
    Stack,
    dashboard_only,
    free_port,
    launch_browser,
    open_page,
    readability_problems,
    screenshot,
    send_demo_traffic,
    send_known_calls,
    send_tiny_tenant_calls,
    tiermix_up,
    zero_amount_metrics,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).parent / "artifacts"
KNOWN_TENANT = "e2e-known"
KNOWN_REQUESTS = 37
TINY_TENANT = "e2e-tiny"  # every amount a fraction of a cent
# A KPI that may read "$0.00" only when the API says the amount is exactly zero: label → (API path, field)
ZERO_CHECKS = {
    "Spend": ("/api/v1/summary", "cost_usd"),
    "Cost per request": ("/api/v1/summary", "cost_per_request_usd"),
    "Savings (estimate)": ("/api/v1/summary", "savings_usd"),
    "Escalation overhead": ("/api/v1/escalations", "escalation_overhead_usd"),
    "Saving / month (low)": ("/api/v1/opportunities", "monthly_savings_low_usd"),
    "Unexplained": ("/api/v1/reconciliation", "unexplained"),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_browser.sh first")
    with tiermix_up(tmp_path_factory.mktemp("e2e-dashboard") / "data", alerts_interval_s=2) as running:
        send_demo_traffic(running.api_url, days=1, rate_per_s=0.05)
        send_known_calls(running.api_url, tenant=KNOWN_TENANT, requests=KNOWN_REQUESTS)
        send_tiny_tenant_calls(running.api_url, tenant=TINY_TENANT)
        rule = {
            "name": "frontier spike per tenant",
            "metric": "frontier_share",
            "group_by": ["tenant"],
            "window": "1h",
            "condition": {"op": ">", "threshold": 0.05},
            "min_volume": 10,
            "for": "0s",
        }
        httpx.post(f"{running.api_url}/api/v1/alerts/rules", json=rule, timeout=10).raise_for_status()
        budget = {"tenant": KNOWN_TENANT, "amount_usd": 1.0}
        httpx.post(f"{running.api_url}/api/v1/budgets", json=budget, timeout=30).raise_for_status()
        yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
        bill = f"date,provider,model,cost_usd\n{yesterday},openai,gpt-4o-mini,2.50\n"
        httpx.post(f"{running.api_url}/api/v1/bills/import?source=e2e-invoice", content=bill,
                   timeout=30).raise_for_status()  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def browser_page(stack: Stack) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            yield page
        finally:
            browser.close()


def wait_for_alert_states(stack: Stack, timeout_s: float = 30.0) -> None:
    """The evaluator (every 2 s here) has judged the rule at least once."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{stack.api_url}/api/v1/alerts/states", timeout=10).json().get("states"):
            return
        time.sleep(0.5)
    raise AssertionError("the alert evaluator recorded no state")


def errors_on(page: Any) -> list[str]:
    """Text of every Streamlit exception and error box on the page."""
    selector = '[data-testid="stException"], [data-testid="stAlertContentError"]'
    return [element.inner_text()[:500] for element in page.locator(selector).all()]


@pytest.mark.parametrize("path", list(PAGES), ids=[path or "overview" for path in PAGES])
def test_every_page_renders_without_an_error(stack: Stack, browser_page: Any, path: str) -> None:
    if path == "alerts":
        wait_for_alert_states(stack)
    open_page(browser_page, stack.dashboard_url, path)
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot(browser_page, ARTIFACTS / f"{path or 'overview'}.png")
    assert errors_on(browser_page) == []
    content = '[data-testid="stMetric"], .stPlotlyChart, [data-testid="stDataFrame"], [data-testid="stForm"]'
    if path == "replays":  # the demo captures nothing: the page says how to start (its figures: replay/)
        content = '[data-testid="stAlertContentInfo"]:has-text("No replay runs yet")'
    assert browser_page.locator(content).count() > 0


def test_overview_shows_the_known_request_count_of_a_tenant(stack: Stack, browser_page: Any) -> None:
    open_page(browser_page, stack.dashboard_url, "", query=f"?tenant={KNOWN_TENANT}")
    requests = browser_page.locator('[data-testid="stMetric"]').filter(has_text="Requests").first
    assert requests.locator('[data-testid="stMetricValue"]').inner_text().strip() == str(KNOWN_REQUESTS)
    screenshot(browser_page, ARTIFACTS / "overview-known-tenant.png")
    assert errors_on(browser_page) == []


def test_opportunities_show_the_routing_what_if_of_the_top_route(stack: Stack, browser_page: Any) -> None:
    """The demo's routers record scores and explore: among the routes with evidence, the best ranked one
    whose router sent first attempts to both the top tier and a lower one has a what-if curve."""
    rows = httpx.get(f"{stack.api_url}/api/v1/opportunities", timeout=30).json()["rows"]
    top = None
    for row in (r for r in rows if r["evidence_requests"] and r["top_direct_share"]):
        params = {"tenant": row["tenant"], "route": row["route"]}
        curve = httpx.get(f"{stack.api_url}/api/v1/routing/whatif", params=params, timeout=30).json()
        if curve["curve"]:
            assert curve["current"]["threshold"] is not None
            top = row
            break
    assert top is not None, rows
    query = f"?tenant={top['tenant']}&route={top['route']}"
    open_page(browser_page, stack.dashboard_url, "opportunities", query=query)
    heading = browser_page.get_by_role("heading", name="Routing what-if")
    heading.wait_for(timeout=30_000)
    chart = browser_page.locator(".stPlotlyChart").filter(has_text="threshold vs cost and acceptance")
    chart.first.wait_for(timeout=30_000)
    assert browser_page.get_by_text("scored requests on the curve").count() == 1
    screenshot(browser_page, ARTIFACTS / "opportunities-whatif.png")
    assert errors_on(browser_page) == []


def test_the_filters_travel_in_the_link_across_pages(stack: Stack, browser_page: Any) -> None:
    open_page(browser_page, stack.dashboard_url, "cost", query=f"?range=7d&tenant={KNOWN_TENANT}")
    assert f"tenant={KNOWN_TENANT}" in browser_page.url and "range=7d" in browser_page.url
    browser_page.get_by_role("link", name="Tier mix").click()
    browser_page.locator("h1").filter(has_text="Tier mix").first.wait_for()
    browser_page.wait_for_function("() => window.location.search.includes('tenant=')", timeout=30_000)
    assert f"tenant={KNOWN_TENANT}" in browser_page.url


def test_an_unreachable_api_shows_a_message_not_a_traceback(tmp_path: Path, browser_page: Any) -> None:
    with dashboard_only(f"http://127.0.0.1:{free_port()}", tmp_path) as dashboard_url:
        open_page(browser_page, dashboard_url, "")
        assert browser_page.locator('[data-testid="stException"]').count() == 0
        assert "not reachable" in browser_page.locator('[data-testid="stAlertContentError"]').inner_text()
        screenshot(browser_page, ARTIFACTS / "api-unreachable.png")


def _api_amount(stack: Stack, label: str, tenant: str | None) -> float | None:
    path, field = ZERO_CHECKS[label]
    params = {"tenant": tenant} if tenant else {}
    if path == "/api/v1/reconciliation":  # whole UTC days, as the Bills page asks for the last 24 hours
        today = datetime.now(timezone.utc).date()
        params = {"start": str(today - timedelta(days=1)), "end": str(today + timedelta(days=1))}
    body = httpx.get(f"{stack.api_url}{path}", params=params, timeout=30).json()
    if path == "/api/v1/reconciliation":  # a cause the data does not show is absent: zero
        return float((body.get("causes") or {}).get(field, 0.0))
    if path == "/api/v1/escalations":
        body = body["rows"][0] if body.get("rows") else {}
    if path == "/api/v1/opportunities":
        body = body.get("totals", body)
    value = body.get(field)
    return None if value is None else float(value)


@pytest.mark.parametrize("tenant", [None, TINY_TENANT], ids=["demo", "tiny-spend-tenant"])
@pytest.mark.parametrize("path", list(PAGES), ids=[path or "overview" for path in PAGES])
def test_every_page_reads_cleanly(stack: Stack, browser_page: Any, path: str, tenant: str | None) -> None:
    """No "None" or "nan", no empty cell, no exception or error box, no empty chart where the API has
    data, and no "$0.00" KPI for an amount the API says is not zero: with the demo's week and with a
    tenant whose every amount is a fraction of a cent."""
    open_page(browser_page, stack.dashboard_url, path, query=f"?tenant={tenant}" if tenant else "")
    problems = readability_problems(browser_page)
    for label in zero_amount_metrics(browser_page):
        amount = _api_amount(stack, label, tenant) if label in ZERO_CHECKS else None
        if amount != 0:
            problems.append(f"{label} reads $0.00 where the API says {amount}")
    if problems:
        screenshot(browser_page, ARTIFACTS / f"unreadable-{path or 'overview'}-{tenant or 'demo'}.png")
    assert problems == []


@pytest.fixture(scope="module")
def empty_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with tiermix_up(tmp_path_factory.mktemp("e2e-empty") / "data") as running:
        yield running


@pytest.mark.parametrize("path", list(PAGES), ids=[path or "overview" for path in PAGES])
def test_every_page_of_an_empty_database_says_so_cleanly(
    empty_stack: Stack, browser_page: Any, path: str
) -> None:
    open_page(browser_page, empty_stack.dashboard_url, path)
    assert readability_problems(browser_page) == []
    assert zero_amount_metrics(browser_page) == {}


def test_an_alert_test_message_links_to_the_dashboard_that_is_running(stack: Stack) -> None:
    """``tiermix up --dashboard-port P``: the link in a notification opens that dashboard (not :8501)."""
    from tests.integration.alerts.receivers import http_receiver

    with http_receiver() as hook:
        rule = {
            "name": "link check",
            "metric": "spend",
            "window": "1h",
            "condition": {"op": ">", "threshold": 1e9},
            "channels": [{"type": "webhook", "url": hook.url}],
        }
        created = httpx.post(f"{stack.api_url}/api/v1/alerts/rules", json=rule, timeout=10)
        created.raise_for_status()
        rule_id = created.json()["id"]
        try:
            sent = httpx.post(f"{stack.api_url}/api/v1/alerts/rules/{rule_id}/test", timeout=30)
            assert sent.status_code == 200, sent.text
            (payload,) = hook.bodies()
        finally:
            httpx.delete(f"{stack.api_url}/api/v1/alerts/rules/{rule_id}", timeout=10)
    assert payload["dashboard_url"].startswith(f"{stack.dashboard_url}/"), payload["dashboard_url"]
    assert not stack.dashboard_url.endswith(":8501")


def test_the_monthly_report_prints_as_a_clean_pdf(stack: Stack, browser_page: Any, tmp_path: Path) -> None:
    """The browser's Print / Save as PDF of the report: at most two A4 pages, the tenant's figures in it,
    and none of the screen's furniture (sidebar, download buttons, pickers)."""
    from pypdf import PdfReader

    open_page(browser_page, stack.dashboard_url, "report", query=f"?tenant={KNOWN_TENANT}")
    summary = httpx.get(f"{stack.api_url}/api/v1/summary", params={"tenant": KNOWN_TENANT}, timeout=30).json()
    browser_page.emulate_media(media="print")
    try:
        pdf = tmp_path / "report.pdf"
        browser_page.pdf(path=str(pdf), format="A4", print_background=True)
    finally:
        browser_page.emulate_media(media="screen")
    reader = PdfReader(str(pdf))
    text = " ".join(page.extract_text() or "" for page in reader.pages)
    assert 1 <= len(reader.pages) <= 2, len(reader.pages)
    assert f"{KNOWN_TENANT} ·" in text and "Tier mix and cost per request" in text
    assert str(KNOWN_REQUESTS) in text and summary["requests"] == KNOWN_REQUESTS
    for furniture in ("Download CSV", "Refresh data", "Link to this view", "Time range"):
        assert furniture not in text, furniture
