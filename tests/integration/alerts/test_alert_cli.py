"""``tiermix alerts ...`` against a real metadata DB (the CLI's main, in process)."""

from __future__ import annotations

import json
from typing import Any

from tiermix_server.cli import main

RULE = {
    "name": "frontier spike",
    "metric": "frontier_share",
    "group_by": ["tenant"],
    "condition": {"op": ">", "threshold": 0.3},
    "min_volume": 50,
    "for": "2m",
}


def tiermix(capsys: Any, data_dir: Any, *argv: str) -> tuple[int, str, str]:
    code = main(["alerts", *argv, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def test_create_list_show_disable_silence_and_delete(tmp_path, capsys):
    path = tmp_path / "rule.json"
    path.write_text(json.dumps(RULE))
    code, out, _ = tiermix(capsys, tmp_path, "create", str(path))
    assert code == 0 and json.loads(out)["name"] == "frontier spike"
    code, out, _ = tiermix(capsys, tmp_path, "list")
    assert code == 0 and "frontier spike" in out and "> 0.3" in out and "yes" in out
    assert tiermix(capsys, tmp_path, "disable", "frontier spike")[0] == 0
    code, out, _ = tiermix(capsys, tmp_path, "show", "1")
    assert json.loads(out)["rule"]["enabled"] is False
    code, out, _ = tiermix(capsys, tmp_path, "silence", "frontier spike", "--for", "30m", "--tenant", "acme")
    assert code == 0 and "{'tenant': 'acme'}" in out
    assert tiermix(capsys, tmp_path, "delete", "frontier spike")[0] == 0
    code, _, err = tiermix(capsys, tmp_path, "show", "frontier spike")
    assert code == 2 and "no alert rule 'frontier spike'" in err


def test_invalid_rule_is_one_clear_line(tmp_path, capsys):
    code, _, err = tiermix(capsys, tmp_path, "create", "--json", json.dumps({**RULE, "window": "soon"}))
    expected = "tiermix: error: window: 'soon' is not a duration: write it like '30s', '5m', '1h' or '1d'"
    assert code == 2 and err.strip() == expected


def test_test_command_sends_to_the_channels(tmp_path, capsys, receiver):
    body = {**RULE, "channels": [{"type": "webhook", "url": receiver.url}]}
    assert tiermix(capsys, tmp_path, "create", "--json", json.dumps(body))[0] == 0
    code, out, _ = tiermix(capsys, tmp_path, "test", "frontier spike")
    assert code == 0 and out.strip() == "0:webhook: sent"
    assert receiver.bodies()[0]["kind"] == "test"


def test_run_reports_an_embedded_data_dir_held_elsewhere(tmp_path, capsys, clickhouse):
    # This test process already runs chDB on the session's data dir; another dir cannot be opened,
    # exactly as when a running `tiermix up` holds it.
    code, _, err = tiermix(capsys, tmp_path, "run", "--once")
    assert code == 2 and err.startswith("tiermix: error: ") and err.count("\n") == 1
    assert "data dir" in err and "already evaluates alerts" in err
