"""What the auth tests share: the keys of tenants A and B, the running server, and B's secret names."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx

from tests.support.calls import Scenario, generate_calls

B_SECRETS = ("b-secret-model", "b.secret.route", "tenant-b")


@dataclass
class Keys:
    admin: str
    a_read: str
    a_ingest: str
    a_admin: str
    b_read: str
    b_ingest: str


@dataclass
class Server:
    url: str
    settings: Any
    client: Any  # ClickHouse
    meta: Any
    keys: Keys
    start: datetime
    end: datetime

    def get(self, path: str, key: str | None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.get(f"{self.url}{path}", params=params, headers=headers, timeout=30)


def b_calls(start: datetime, end: datetime) -> list[Any]:
    rows = generate_calls(start, end, seed=5, scenario=Scenario(requests=60, tenants=("tenant-b",)))
    return [
        replace(row, model="b-secret-model", request_model="b-secret-model", route="b.secret.route")
        for row in rows
    ]
