"""The public surface of ``tiermix`` is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import tiermix


def test_public_names_are_exactly_the_documented_ones() -> None:
    assert sorted(tiermix.__all__) == sorted(
        [
            "ESCALATION_REASONS",
            "Call",
            "Cascade",
            "__version__",
            "bind",
            "call",
            "cascade",
            "context",
            "flush",
            "init",
            "instrument",
            "observe",
            "route_decision",
            "shutdown",
            "uninstrument",
            "ExportStats",
            "stats",
        ]
    )
    for name in tiermix.__all__:
        assert hasattr(tiermix, name)


def test_every_environment_variable_is_documented_in_the_package_docstring() -> None:
    doc = tiermix.__doc__ or ""
    for var in (
        "TIERMIX_ENDPOINT",
        "TIERMIX_API_KEY",
        "TIERMIX_SERVICE",
        "TIERMIX_ENVIRONMENT",
        "TIERMIX_TENANT",
        "TIERMIX_ROUTE",
        "TIERMIX_CAPTURE_CONTENT",
        "TIERMIX_MAX_QUEUE",
        "TIERMIX_SPOOL_DIR",
        "TIERMIX_DISABLED",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
    ):
        assert var in doc, var


def test_escalation_reasons_are_those_of_the_design() -> None:
    assert {
        "verification_failed",
        "low_confidence",
        "refusal",
        "error",
        "timeout",
        "policy",
        "manual",
    } == tiermix.ESCALATION_REASONS
