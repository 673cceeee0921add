"""Anthropic's Usage & Cost Admin API, as documented: ``GET /v1/organizations/cost_report`` (daily
buckets; ``amount`` is a decimal string in cents, ``"123.45"`` = $1.23; grouped by ``description`` it
names the ``model``) and ``GET /v1/organizations/usage_report/messages`` (tokens per ``model``), an
admin key (``sk-ant-admin…``) as ``x-api-key`` with ``anthropic-version``, cursor pagination.

Anthropic documents that the cost report leaves out Priority Tier costs: a Priority Tier organization's
gap shows here as tracked spend above the bill.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx

from tiermix_server.bills.bill import Bill, BillFetchError, CostLine, UsageLine
from tiermix_server.bills.paging import pages

DEFAULT_BASE_URL = "https://api.anthropic.com"
PROVIDER = "anthropic"
API_VERSION = "2023-06-01"


def _rfc3339(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _day(text: Any) -> date:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(timezone.utc).date()


def fetch(base_url: str, admin_key: str, start: date, end: date, *, backoff_s: float = 1.0) -> Bill:
    """The bill for days ``[start, end)``."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    bill = Bill(days=[start + timedelta(days=i) for i in range((end - start).days)])
    params = {"starting_at": _rfc3339(start), "ending_at": _rfc3339(end), "bucket_width": "1d", "limit": 31}
    headers = {"x-api-key": admin_key, "anthropic-version": API_VERSION}
    with httpx.Client(headers=headers, timeout=60) as client:
        costs = pages(
            client,
            f"{base}/v1/organizations/cost_report",
            {**params, "group_by[]": "description"},
            backoff_s=backoff_s,
        )
        for page in costs:
            for bucket in page["data"]:
                day = _day(bucket["starting_at"])
                for result in bucket.get("results", []):
                    if str(result.get("currency", "USD")).upper() != "USD":
                        raise BillFetchError(
                            f"Anthropic billed in {result.get('currency')!r}: only USD is reconciled"
                        )
                    try:
                        usd = float(result.get("amount") or 0) / 100  # cents, as a decimal string
                    except ValueError:
                        raise BillFetchError(
                            f"Anthropic cost amount {result.get('amount')!r} is not a number"
                        ) from None
                    item = str(result.get("description") or result.get("cost_type") or "(total)")
                    bill.lines.append(CostLine(day, PROVIDER, item, str(result.get("model") or ""), usd))
        usage = pages(
            client,
            f"{base}/v1/organizations/usage_report/messages",
            {**params, "group_by[]": "model"},
            backoff_s=backoff_s,
        )
        for page in usage:
            for bucket in page["data"]:
                day = _day(bucket["starting_at"])
                for result in bucket.get("results", []):
                    creation = result.get("cache_creation") or {}
                    cached = int(result.get("cache_read_input_tokens") or 0)
                    written = int(creation.get("ephemeral_5m_input_tokens") or 0) + int(
                        creation.get("ephemeral_1h_input_tokens") or 0
                    )
                    uncached = int(result.get("uncached_input_tokens") or 0)
                    bill.usage.append(
                        UsageLine(
                            day,
                            PROVIDER,
                            str(result.get("model") or ""),
                            uncached + cached + written,
                            int(result.get("output_tokens") or 0),
                            cached,
                            0,
                        )
                    )
    return bill
