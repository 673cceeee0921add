"""Data health: what the numbers may be missing — unpriced calls, calls SDKs dropped, spans rejected.

``sdk_drops`` is a ReplacingMergeTree keyed by the report's tenant and span_id: a replayed report may
sit twice in the table until a merge, so reports are deduplicated by (tenant, span_id) before they are
summed.
"""

# ruff: noqa: S608 - SQL here is assembled from fixed fragments and column names; every value is a
# server-side parameter ({name:Type}), so no input ever becomes SQL text.

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tiermix_server.metrics.filters import Filters, Params
from tiermix_server.metrics.sources import counters_source
from tiermix_server.metrics.summary import ratio


@dataclass(frozen=True, slots=True)
class DataHealth:
    calls: int = 0
    unpriced_calls: int = 0
    unpriced_models: list[dict[str, Any]] = field(default_factory=list)
    sdk_drops: list[dict[str, Any]] = field(default_factory=list)
    ingest: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unpriced_share(self) -> float | None:
        return ratio(self.unpriced_calls, self.calls)

    @property
    def sdk_dropped(self) -> int:
        return sum(int(row["dropped"]) for row in self.sdk_drops)

    @property
    def rejected_spans(self) -> int:
        return self._outcome("rejected")

    @property
    def storage_refused(self) -> int:
        """Rows ClickHouse refused on their own (kept in the collector's spool/refused folder)."""
        return self._outcome("refused")

    @property
    def spool_corrupt_records(self) -> int:
        """Acknowledged batches lost to a spool record that failed its checksum (spool/corrupt)."""
        return self._outcome("lost", "spool_corrupt_record")

    @property
    def refused_requests(self) -> dict[str, int]:
        """Whole export requests the collector refused, by HTTP status (``http_401``: a wrong key)."""
        return {
            row["reason"]: int(row["spans"]) for row in self.ingest if row["outcome"] == "refused_request"
        }

    @property
    def peer_cost_disagreements(self) -> int:
        """Calls whose instrumentation's own cost differed from the price book's by more than 1%."""
        return self._outcome("clipped", "peer_cost_disagrees")

    def _outcome(self, outcome: str, reason: str | None = None) -> int:
        return sum(
            int(row["spans"])
            for row in self.ingest
            if row["outcome"] == outcome and (reason is None or row["reason"] == reason)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "unpriced_calls": self.unpriced_calls,
            "unpriced_share": self.unpriced_share,
            "unpriced_models": self.unpriced_models,
            "sdk_dropped": self.sdk_dropped,
            "sdk_drops": self.sdk_drops,
            "rejected_spans": self.rejected_spans,
            "storage_refused": self.storage_refused,
            "spool_corrupt_records": self.spool_corrupt_records,
            "peer_cost_disagreements": self.peer_cost_disagreements,
            "refused_requests": self.refused_requests,
            "ingest": self.ingest,
        }


def data_health(client: Any, filters: Filters) -> DataHealth:
    params = Params()
    source = counters_source(filters, params, ("calls", "unpriced"), ("provider", "model"))
    models = client.query(
        "SELECT s.provider AS provider, s.model AS model, sum(s.calls) AS calls, "
        f"sum(s.unpriced) AS unpriced "
        f"FROM {source} GROUP BY provider, model ORDER BY unpriced DESC, provider, model",
        parameters=params.values,
    ).named_results()
    calls = unpriced = 0
    unpriced_models = []
    for row in models:
        calls += row["calls"]
        unpriced += row["unpriced"]
        if row["unpriced"]:
            unpriced_models.append(
                {"provider": row["provider"], "model": row["model"], "calls": row["unpriced"]}
            )
    return DataHealth(calls, unpriced, unpriced_models, _sdk_drops(client, filters), _ingest(client, filters))


def _scope(filters: Filters, params: Params, time_column: str, *, environment: bool) -> str:
    ts_type = "DateTime64(6, 'UTC')"
    conditions = [
        f"{time_column} >= {params.add(filters.start, ts_type)}",
        f"{time_column} < {params.add(filters.end, ts_type)}",
    ]
    if filters.tenant is not None:
        conditions.append(f"tenant = {params.add(filters.tenant, 'String')}")
    if environment and filters.environment is not None:
        conditions.append(f"environment = {params.add(filters.environment, 'String')}")
    return "WHERE " + " AND ".join(conditions)


def _sdk_drops(client: Any, filters: Filters) -> list[dict[str, Any]]:
    params = Params()
    where = _scope(filters, params, "ts", environment=True)
    sql = (
        "SELECT d.reason AS reason, sum(d.dropped) AS dropped FROM ("
        "SELECT tenant, span_id, any(reason) AS reason, any(dropped) AS dropped "
        f"FROM sdk_drops {where} GROUP BY tenant, span_id"
        ") AS d GROUP BY reason ORDER BY dropped DESC, reason"
    )
    return [dict(row) for row in client.query(sql, parameters=params.values).named_results()]


def _ingest(client: Any, filters: Filters) -> list[dict[str, Any]]:
    params = Params()
    # ingest_stats counts per minute: a minute that starts in the range belongs to it
    where = _scope(filters, params, "bucket", environment=False)
    sql = (
        f"SELECT outcome, reason, sum(spans) AS total FROM ingest_stats {where} "
        "GROUP BY outcome, reason ORDER BY outcome, total DESC, reason"
    )
    rows = client.query(sql, parameters=params.values).result_rows
    return [{"outcome": outcome, "reason": reason, "spans": spans} for outcome, reason, spans in rows]
