"""The dashboard and the server name the same things the same way.

The dashboard is a separate distribution that talks HTTP, so it cannot import the server's lists; this
test imports both and fails when one side gains or renames a metric, operator, condition kind or
severity without the other. Tier names have no list on the dashboard at all: they come from the API.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tiermix_dashboard import alert_rules
from tiermix_server.alerts import rules

DASHBOARD = Path(alert_rules.__file__).parent


def test_alert_metrics_operators_kinds_and_severities_agree() -> None:
    assert tuple(alert_rules.METRICS) == rules.METRICS
    assert alert_rules.OPS == rules.OPERATORS
    assert tuple(alert_rules.KINDS) == rules.CONDITION_KINDS
    assert alert_rules.SEVERITIES == rules.SEVERITIES


def test_the_dashboard_holds_no_tier_name_literal() -> None:
    from tiermix_server.pricing.tiers import default_map_data

    shipped = {tier.name for tier in default_map_data()[0]}
    found = []
    for path in DASHBOARD.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in shipped:
                found.append(f"{path.relative_to(DASHBOARD)}:{node.lineno} {node.value!r}")
    assert found == []
