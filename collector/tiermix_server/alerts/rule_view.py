"""An alert rule as the API and the CLI show it: channel secrets redacted unless just created."""

from __future__ import annotations

from typing import Any

from tiermix_server.alerts import store
from tiermix_server.alerts.channel_secrets import redact
from tiermix_server.auth import Principal


def rule_json(
    rule: store.RuleRecord, *, show_secrets: bool = False, principal: Principal | None = None
) -> dict[str, Any]:
    spec = rule.spec.to_json()
    # A tenant-bound key may read a global (operator's) rule, but not where it notifies.
    targets = principal is None or principal.tenant is None or rule.tenant is not None
    return {
        "id": rule.id,
        **(spec if show_secrets else redact(spec, targets=targets)),
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }
