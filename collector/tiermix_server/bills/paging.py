"""Reading a provider's paginated admin API: cursor pages, retries on 429 / 5xx with backoff, and
errors a user can act on (a refused key is said so, never retried)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

from tiermix_server.bills.bill import BillFetchError

MAX_PAGES = 1000  # a runaway cursor stops here rather than loop for ever
RETRIES = 4


def pages(
    client: httpx.Client, url: str, params: dict[str, Any], *, backoff_s: float = 1.0
) -> Iterator[dict[str, Any]]:
    """Every page of ``url``: ``next_page`` is sent back as ``page`` until ``has_more`` is false."""
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        query = {**params, **({"page": cursor} if cursor else {})}
        body = _get(client, url, query, backoff_s)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise BillFetchError(f"{url} answered a body without a data list: not the documented shape")
        yield body
        if not body.get("has_more"):
            return
        cursor = body.get("next_page")
        if not cursor:
            raise BillFetchError(f"{url} says has_more but gives no next_page")
    raise BillFetchError(f"{url}: more than {MAX_PAGES} pages")


def _get(client: httpx.Client, url: str, query: dict[str, Any], backoff_s: float) -> Any:
    for attempt in range(RETRIES + 1):
        try:
            response = client.get(url, params=query)
        except httpx.HTTPError as exc:
            if attempt == RETRIES:
                raise BillFetchError(f"cannot reach {url}: {exc}") from None
            time.sleep(backoff_s * 2**attempt)
            continue
        if response.status_code in (401, 403):
            raise BillFetchError(
                f"{url} refused the admin key (HTTP {response.status_code}): {_message(response)}"
            )
        if response.status_code == 429 or response.status_code >= 500:
            if attempt == RETRIES:
                raise BillFetchError(
                    f"{url} kept failing (HTTP {response.status_code}): {_message(response)}"
                )
            retry_after = response.headers.get("retry-after")
            wait = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else 0.0
            time.sleep(max(wait, backoff_s * 2**attempt))
            continue
        if response.status_code >= 400:
            raise BillFetchError(
                f"{url} rejected the request (HTTP {response.status_code}): {_message(response)}"
            )
        try:
            return response.json()
        except ValueError:
            raise BillFetchError(f"{url} answered with a body that is not JSON") from None
    raise AssertionError("unreachable")


def _message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:200]
    if isinstance(error, dict):
        return str(error.get("message") or error)[:200]
    return str(error)[:200]
