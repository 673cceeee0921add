"""``tiermix keys|prices|tiers``: the commands a user runs, against a real SQLite metadata DB."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiermix_server.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "data")


def test_keys_create_prints_the_key_alone_on_the_last_line_and_it_works(
    capsys: pytest.CaptureFixture[str], data_dir: str
) -> None:
    code, out, _ = run(
        capsys, "keys", "create", "--tenant", "acme", "--scope", "ingest", "--data-dir", data_dir
    )
    assert code == 0
    key = out.strip().splitlines()[-1]
    assert key.startswith("tmx_") and " " not in key
    from tiermix_server.meta.db import open_meta
    from tiermix_server.meta.keys import verify_key
    from tiermix_server.settings import load_settings

    code, out, _ = run(capsys, "keys", "list", "--data-dir", data_dir)
    assert "acme" in out and "never" in out and key not in out
    info = verify_key(open_meta(load_settings(data_dir=data_dir)), key)
    assert info is not None and (info.scope, info.tenant) == ("ingest", "acme")
    assert info.prefix in out
    code, out, _ = run(capsys, "keys", "revoke", info.prefix, "--data-dir", data_dir)
    assert code == 0 and "revoked" in out
    assert verify_key(open_meta(load_settings(data_dir=data_dir)), key) is None


def test_keys_create_needs_a_tenant_or_all_tenants(capsys: pytest.CaptureFixture[str], data_dir: str) -> None:
    with pytest.raises(SystemExit):
        main(["keys", "create", "--scope", "read", "--data-dir", data_dir])


def test_revoking_an_unknown_key_is_one_clear_line(capsys: pytest.CaptureFixture[str], data_dir: str) -> None:
    code, _, err = run(capsys, "keys", "revoke", "abcdefabcdef", "--data-dir", data_dir)
    assert code == 2 and err.strip() == "tiermix: error: no API key 'abcdefabcdef'"


def test_prices_show_set_and_list(capsys: pytest.CaptureFixture[str], data_dir: str) -> None:
    code, out, _ = run(
        capsys,
        "prices",
        "show",
        "gpt-4o",
        "--provider",
        "openai",
        "--at",
        "2026-01-05",
        "--data-dir",
        data_dir,
    )
    assert (
        code == 0 and "genai-prices:openai/gpt-4o" in out and "input $2.5" in out and "tier:     mid" in out
    )
    code, out, _ = run(capsys, "prices", "show", "house-7b", "--provider", "vllm", "--data-dir", data_dir)
    assert "unpriced" in out
    code, out, _ = run(
        capsys,
        "prices",
        "set",
        "house-7b",
        "--input",
        "0.2",
        "--output",
        "0.4",
        "--from",
        "2026-01-01",
        "--data-dir",
        data_dir,
    )
    assert code == 0 and "tiermix prices reprice --since 2026-01-01" in out
    code, out, _ = run(capsys, "prices", "show", "house-7b", "--provider", "vllm", "--data-dir", data_dir)
    assert "custom:1" in out and "input $0.2" in out
    code, out, _ = run(
        capsys, "prices", "set", "gpt-4o", "--discount", "15", "--tenant", "acme", "--data-dir", data_dir
    )
    assert code == 0
    code, out, _ = run(capsys, "prices", "list", "--data-dir", data_dir)
    assert "house-7b" in out and "-15%" in out and "acme" in out


def test_prices_set_rejects_mixed_kinds_in_one_line(
    capsys: pytest.CaptureFixture[str], data_dir: str
) -> None:
    code, _, err = run(
        capsys, "prices", "set", "gpt-4o", "--discount", "10", "--output", "1", "--data-dir", data_dir
    )
    assert code == 2 and "cannot be combined" in err


def test_tiers_explain_set_and_show(capsys: pytest.CaptureFixture[str], data_dir: str) -> None:
    code, out, _ = run(capsys, "tiers", "explain", "claude-opus-4-1", "--data-dir", data_dir)
    assert code == 0 and out.startswith("claude-opus-4-1: frontier") and "*claude*opus*" in out
    code, out, _ = run(
        capsys, "tiers", "explain", "kimi-k2.5", "--provider", "moonshotai", "--data-dir", data_dir
    )
    assert "mid" in out and "band" in out
    code, out, _ = run(capsys, "tiers", "set", "*house*", "small", "--data-dir", data_dir)
    assert code == 0
    code, out, _ = run(capsys, "tiers", "explain", "house-7b", "--data-dir", data_dir)
    assert "house-7b: small" in out and "user:1" in out
    code, out, _ = run(capsys, "tiers", "show", "--data-dir", data_dir)
    assert "'*house*'" in out and "frontier" in out
    code, _, err = run(capsys, "tiers", "set", "*x*", "platinum", "--data-dir", data_dir)
    assert code == 2 and "unknown tier" in err
    code, out, _ = run(capsys, "tiers", "define", "cheap=2", "dear", "--data-dir", data_dir)
    assert code == 0 and "cheap < dear" in out
