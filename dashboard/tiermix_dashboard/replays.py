"""Shadow-replay queries: ``/api/v1/replays`` as frames (admin API, docs/replay.md). No Streamlit here.

One row per run with its headline figures flattened (servable share and interval, monthly savings of
the ``moved`` scenario, spend), and one row per sample with both answers, for the drill-down.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from tiermix_dashboard.api_client import ApiClient
from tiermix_dashboard.queries import frame

RUN_COLUMNS = (
    "id", "tenant", "route", "candidate", "status", "servable_share", "servable_low", "servable_high",
    "judged", "planned", "no_verdict", "savings_low_usd", "savings_usd", "savings_high_usd", "spent_usd",
    "cap_usd", "created_at", "finished_at", "error",
)  # fmt: skip
SAMPLE_COLUMNS = (
    "verdict", "question", "production_answer", "candidate_answer", "reasons", "production_model",
    "candidate_model", "production_ms", "candidate_ms", "production_cost_usd", "candidate_cost_usd",
    "judge_cost_usd", "retries", "error", "ts", "span_id",
)  # fmt: skip
VERDICTS = {1: "servable", 0: "not servable", -1: "no verdict"}
SAMPLES_PAGE = 500


def replay_runs(client: ApiClient, tenant: str | None) -> pd.DataFrame:
    body = client.get("/api/v1/replays", {"tenant": tenant})
    rows = [run_row(run) for run in body.get("replays", [])]
    return frame(rows, RUN_COLUMNS, times=("created_at", "finished_at"))[list(RUN_COLUMNS)]


def replay_run(client: ApiClient, run_id: int) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/replays/{int(run_id)}"))


def replay_samples(client: ApiClient, run_id: int, verdict: int | None) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    while True:  # a run holds at most 10,000 samples: every page, so the table and its CSV are whole
        params = {"limit": SAMPLES_PAGE, "offset": len(rows), "verdict": verdict}
        page = client.get(f"/api/v1/replays/{int(run_id)}/samples", params).get("samples", [])
        rows += [sample_row(sample) for sample in page]
        if len(page) < SAMPLES_PAGE:
            break
    return frame(rows, SAMPLE_COLUMNS, times=("ts",))[list(SAMPLE_COLUMNS)]


def run_row(run: dict[str, Any]) -> dict[str, Any]:
    result = run.get("result") or {}
    servable = result.get("servable") or {}
    moved = (result.get("monthly_savings_usd") or {}).get("moved") or {}
    progress = run.get("progress") or {}
    return {
        "id": run["id"],
        "tenant": run["tenant"],
        "route": run["route"],
        "candidate": "{provider}:{model}".format(**run["spec"]["candidate"]),
        "status": run["status"],
        "servable_share": servable.get("share"),
        "servable_low": servable.get("low"),
        "servable_high": servable.get("high"),
        "judged": progress.get("judged"),
        "planned": progress.get("planned"),
        "no_verdict": progress.get("errors"),
        "savings_low_usd": moved.get("low"),
        "savings_usd": moved.get("point"),
        "savings_high_usd": moved.get("high"),
        "spent_usd": progress.get("spent_usd"),
        "cap_usd": run["spec"].get("max_cost_usd"),
        "created_at": run.get("created_at"),
        "finished_at": run.get("finished_at"),
        "error": run.get("error"),
    }


def sample_row(sample: dict[str, Any]) -> dict[str, Any]:
    return {
        **{name: sample.get(name) for name in SAMPLE_COLUMNS},
        "verdict": VERDICTS.get(int(sample["verdict"]), str(sample["verdict"])),
        "reasons": "; ".join(_json_list(sample.get("reasons"))),
        "question": last_user_message(sample.get("request")),
        "error": sample.get("error") or None,
    }


def last_user_message(request: Any) -> str | None:
    """The request's last user message: what a reader needs to judge the two answers side by side."""
    try:
        messages = json.loads(request)["messages"] if isinstance(request, str) else []
    except (ValueError, KeyError, TypeError):
        return None
    users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1]) if users else None


def _json_list(value: Any) -> list[str]:
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return [str(value)]
    return [str(item) for item in parsed] if isinstance(parsed, list) else []
