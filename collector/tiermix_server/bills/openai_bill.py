"""OpenAI's organization Costs and Usage API, as documented: ``GET /v1/organization/costs`` (daily
buckets of ``amount.value`` in USD per ``line_item``) and ``GET /v1/organization/usage/completions``
(tokens and ``num_model_requests`` per ``model``), an admin key as ``Authorization: Bearer``, cursor
pagination (``has_more`` / ``next_page``). A line item reads ``"<model>, <kind>"``; its model is what
precedes the comma when that is a model id.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx

from tiermix_server.bills.bill import Bill, BillFetchError, CostLine, UsageLine
from tiermix_server.bills.paging import pages

DEFAULT_BASE_URL = "https://api.openai.com"
PROVIDER = "openai"
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


def _unix(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


def _day(seconds: Any) -> date:
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc).date()


def model_of_line_item(line_item: str) -> str:
    name = line_item.partition(",")[0].strip()
    return name if _MODEL_ID.match(name) else ""


def fetch(base_url: str, admin_key: str, start: date, end: date, *, backoff_s: float = 1.0) -> Bill:
    """The bill for days ``[start, end)``."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    bill = Bill(days=days)
    params = {"start_time": _unix(start), "end_time": _unix(end), "bucket_width": "1d", "limit": 31}
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(headers=headers, timeout=60) as client:
        for page in pages(
            client, f"{base}/v1/organization/costs", {**params, "group_by": "line_item"}, backoff_s=backoff_s
        ):
            for bucket in page["data"]:
                day = _day(bucket["start_time"])
                for result in bucket.get("results", []):
                    amount = result.get("amount") or {}
                    currency = str(amount.get("currency", "usd")).lower()
                    if currency != "usd":
                        raise BillFetchError(f"OpenAI billed in {currency!r}: only USD bills are reconciled")
                    item = str(result.get("line_item") or "")
                    bill.lines.append(
                        CostLine(
                            day,
                            PROVIDER,
                            item or "(total)",
                            model_of_line_item(item),
                            float(amount.get("value") or 0.0),
                        )
                    )
        for page in pages(
            client,
            f"{base}/v1/organization/usage/completions",
            {**params, "group_by": "model"},
            backoff_s=backoff_s,
        ):
            for bucket in page["data"]:
                day = _day(bucket["start_time"])
                for result in bucket.get("results", []):
                    bill.usage.append(
                        UsageLine(
                            day,
                            PROVIDER,
                            str(result.get("model") or ""),
                            int(result.get("input_tokens") or 0),
                            int(result.get("output_tokens") or 0),
                            int(result.get("input_cached_tokens") or 0),
                            int(result.get("num_model_requests") or 0),
                        )
                    )
    return bill
