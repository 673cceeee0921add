"""Capture policies in the metadata DB: which tenant x route keeps content for replay, at what rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from tiermix_server.errors import BadRequest, NotFound
from tiermix_server.meta.db import MetaDB
from tiermix_server.meta.models import CapturePolicy

MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class PolicyRow:
    tenant: str
    route: str  # "*": every route of the tenant without a policy of its own
    sample_rate: float


def list_policies(meta: MetaDB, tenant: str | None = None) -> list[PolicyRow]:
    with meta.session() as session:
        query = select(CapturePolicy).order_by(CapturePolicy.tenant, CapturePolicy.route)
        if tenant is not None:
            query = query.where(CapturePolicy.tenant == tenant)
        return [PolicyRow(p.tenant, p.route, p.sample_rate) for p in session.scalars(query)]


def set_policy(meta: MetaDB, tenant: str, route: str, sample_rate: Any) -> PolicyRow:
    if not tenant or len(tenant) > MAX_NAME or not route or len(route) > MAX_NAME or "\x00" in tenant + route:
        raise BadRequest(f"tenant and route must be 1 to {MAX_NAME} characters ('*' for every route)")
    if not isinstance(sample_rate, int | float) or isinstance(sample_rate, bool) or not 0 < sample_rate <= 1:
        raise BadRequest("sample_rate must be a number in (0, 1], e.g. 0.02 for 2%")
    with meta.session() as session:
        row = session.get(CapturePolicy, (tenant, route))
        if row is None:
            session.add(CapturePolicy(tenant=tenant, route=route, sample_rate=float(sample_rate)))
        else:
            row.sample_rate = float(sample_rate)
    return PolicyRow(tenant, route, float(sample_rate))


def delete_policy(meta: MetaDB, tenant: str, route: str) -> None:
    with meta.session() as session:
        gone = session.execute(
            delete(CapturePolicy).where(CapturePolicy.tenant == tenant, CapturePolicy.route == route)
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"no capture policy for tenant {tenant!r}, route {route!r}")


def policy_map(meta: MetaDB) -> dict[tuple[str, str], float]:
    return {(p.tenant, p.route): p.sample_rate for p in list_policies(meta)}
