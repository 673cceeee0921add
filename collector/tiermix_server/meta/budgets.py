"""Budgets in the metadata DB: a USD limit per tenant, route or tenant x route, per month or a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from tiermix_server.errors import BadRequest, NotFound
from tiermix_server.meta.db import MetaDB
from tiermix_server.meta.models import Budget

MAX_NAME = 200
MAX_AMOUNT_USD = 1e12
PERIODS = ("month", "custom")
FIELDS = frozenset({"name", "tenant", "route", "period", "starts_on", "ends_on", "amount_usd"})


@dataclass(frozen=True, slots=True)
class BudgetRow:
    id: int
    name: str
    tenant: str | None  # None: every tenant
    route: str | None  # None: every route
    period: str  # month | custom
    starts_on: date | None  # custom periods only
    ends_on: date | None  # exclusive
    amount_usd: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "tenant": self.tenant,
            "route": self.route,
            "period": self.period,
            "starts_on": self.starts_on.isoformat() if self.starts_on else None,
            "ends_on": self.ends_on.isoformat() if self.ends_on else None,
            "amount_usd": self.amount_usd,
        }


def _row(budget: Budget) -> BudgetRow:
    return BudgetRow(
        budget.id,
        budget.name,
        budget.tenant,
        budget.route,
        budget.period,
        date.fromisoformat(budget.starts_on) if budget.starts_on else None,
        date.fromisoformat(budget.ends_on) if budget.ends_on else None,
        budget.amount_usd,
    )


def validate(body: dict[str, Any]) -> dict[str, Any]:
    """The columns of a budget from a request body (``amount_usd`` required; month by default)."""
    unknown = set(body) - FIELDS
    if unknown:
        raise BadRequest(f"unknown budget fields: {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {"name": _text(body.get("name"), "name") or ""}
    for key in ("tenant", "route"):
        out[key] = _text(body.get(key), key) or None
    period = body.get("period", "month")
    if period not in PERIODS:
        raise BadRequest("period must be month (each calendar month, UTC) or custom (starts_on, ends_on)")
    out["period"] = period
    amount = body.get("amount_usd")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 < amount <= MAX_AMOUNT_USD:
        raise BadRequest("amount_usd must be a number above 0")
    out["amount_usd"] = float(amount)
    if period == "custom":
        starts, ends = _day(body.get("starts_on"), "starts_on"), _day(body.get("ends_on"), "ends_on")
        if ends <= starts:
            raise BadRequest("ends_on must be after starts_on (the end is exclusive)")
        if (ends - starts).days > 366:
            raise BadRequest("a custom period is at most 366 days")
        out["starts_on"], out["ends_on"] = starts.isoformat(), ends.isoformat()
    else:
        if body.get("starts_on") or body.get("ends_on"):
            raise BadRequest("starts_on / ends_on are for period custom; a month budget renews each month")
        out["starts_on"] = out["ends_on"] = None
    return out


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME or "\x00" in value:
        raise BadRequest(f"{name} must be a string of at most {MAX_NAME} characters (no NUL)")
    return value


def _day(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadRequest(f"{name} must be a date, YYYY-MM-DD") from None


def list_budgets(meta: MetaDB, tenant: str | None = None) -> list[BudgetRow]:
    """Every budget, or those of one tenant (a tenant's key sees its own budgets only)."""
    with meta.session() as session:
        query = select(Budget).order_by(Budget.tenant, Budget.route, Budget.id)
        if tenant is not None:
            query = query.where(Budget.tenant == tenant)
        return [_row(b) for b in session.scalars(query)]


def get_budget(meta: MetaDB, budget_id: int, tenant: str | None = None) -> BudgetRow:
    with meta.session() as session:
        budget = session.get(Budget, budget_id)
        if budget is None or (tenant is not None and budget.tenant != tenant):
            raise NotFound(f"no budget {budget_id}")
        return _row(budget)


def create_budget(meta: MetaDB, values: dict[str, Any]) -> BudgetRow:
    with meta.session() as session:
        budget = Budget(**values)
        session.add(budget)
        session.flush()
        return _row(budget)


def update_budget(
    meta: MetaDB, budget_id: int, values: dict[str, Any], tenant: str | None = None
) -> BudgetRow:
    with meta.session() as session:
        budget = session.get(Budget, budget_id)
        if budget is None or (tenant is not None and budget.tenant != tenant):
            raise NotFound(f"no budget {budget_id}")
        for key, value in values.items():
            setattr(budget, key, value)
        session.flush()
        return _row(budget)


def delete_budget(meta: MetaDB, budget_id: int, tenant: str | None = None) -> None:
    with meta.session() as session:
        budget = session.get(Budget, budget_id)
        if budget is None or (tenant is not None and budget.tenant != tenant):
            raise NotFound(f"no budget {budget_id}")
        session.delete(budget)
