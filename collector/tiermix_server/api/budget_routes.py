"""``/api/v1/budgets``: spend limits with their standing and month-end forecast (docs/budgets.md).

Reading needs a read key: a tenant-bound key sees its own tenant's budgets only (a budget over every
tenant is not its to see). Writing needs an admin key; a tenant-bound admin key writes its own tenant's
budgets only, an all-tenants admin key any.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from tiermix_server.api.endpoint import Call, endpoint
from tiermix_server.errors import Forbidden
from tiermix_server.meta import budgets
from tiermix_server.metrics.budgets import budget_statuses


def budget_routes() -> list[BaseRoute]:
    return [
        endpoint("GET", "/api/v1/budgets", list_budgets, scope="read"),
        endpoint("POST", "/api/v1/budgets", create_budget, scope="admin", status=201),
        endpoint("GET", "/api/v1/budgets/{budget_id:int}", get_budget, scope="read"),
        endpoint("PUT", "/api/v1/budgets/{budget_id:int}", replace_budget, scope="admin"),
        endpoint("DELETE", "/api/v1/budgets/{budget_id:int}", delete_budget, scope="admin"),
    ]


def _statuses(call: Call, rows: list[budgets.BudgetRow]) -> list[dict[str, Any]]:
    return [status.to_json() for status in budget_statuses(call.runtime.clickhouse, rows)]


def list_budgets(call: Call) -> Any:
    """Every budget in scope with its standing; ``?tenant=`` narrows an all-tenants key's list."""
    tenant = call.principal.tenant or call.query.get("tenant") or None
    rows = budgets.list_budgets(call.meta, tenant)
    route = call.query.get("route")
    if route:
        rows = [row for row in rows if row.route == route]
    return {"budgets": _statuses(call, rows)}


def get_budget(call: Call) -> Any:
    row = budgets.get_budget(call.meta, call.path_id("budget_id"), call.principal.tenant)
    return _statuses(call, [row])[0]


def _values(call: Call) -> dict[str, Any]:
    values = budgets.validate(call.json())
    bound = call.principal.tenant
    if bound is not None:
        if values["tenant"] not in (None, bound):
            raise Forbidden(f"this API key is bound to tenant {bound!r}")
        values["tenant"] = bound  # a tenant's budget, never one over every tenant
    return values


def create_budget(call: Call) -> Any:
    row = budgets.create_budget(call.meta, _values(call))
    return _statuses(call, [row])[0]


def replace_budget(call: Call) -> Any:
    row = budgets.update_budget(call.meta, call.path_id("budget_id"), _values(call), call.principal.tenant)
    return _statuses(call, [row])[0]


def delete_budget(call: Call) -> Any:
    budget_id = call.path_id("budget_id")
    budgets.delete_budget(call.meta, budget_id, call.principal.tenant)
    return {"deleted": budget_id}
