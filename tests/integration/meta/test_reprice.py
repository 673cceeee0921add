"""Reprice and retier acceptance on real chDB: exactly the affected calls change, rollups agree after."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.support.calls import Scenario, generate_calls, insert_calls
from tiermix_server.meta import stores
from tiermix_server.meta.db import open_meta
from tiermix_server.pricing.reprice import reprice, retier

UTC = timezone.utc
# Recent days: the raw table's TTL (90 days) drops older rows whenever a mutation rewrites a part.
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=5)
END = START + timedelta(days=3)
CHANGE = START + timedelta(days=1, hours=7, minutes=13)


@pytest.fixture
def history(clickhouse: Any, settings: Any) -> Any:
    """Three days of calls, first re-priced so every stored cost is today's genai-prices cost."""
    rows = generate_calls(START, END, seed=11, scenario=Scenario(requests=600))
    insert_calls(clickhouse, rows)
    meta = open_meta(settings)
    reprice(clickhouse, settings, meta, START)
    return meta


def calls(client: Any) -> dict[int, tuple[Any, ...]]:
    result = client.query(
        "SELECT span_id, ts, tenant, model, tier, cost_usd, price_source, unpriced FROM llm_calls"
    )
    return {row[0]: row[1:] for row in result.result_rows}


def assert_rollups_agree(client: Any) -> None:
    """Every rollup fed by llm_calls holds exactly what its own view computes from the raw table now."""
    from tiermix_server.pricing.reprice import rollups_of_calls

    database = client.query("SELECT currentDatabase()").result_rows[0][0]
    rollups = rollups_of_calls(client, database)
    assert {r.target for r in rollups} >= {"llm_calls_1m", "llm_calls_1h", "llm_calls_by_band_1d"}
    for rollup in rollups:
        key = client.query(
            "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
            parameters={"t": rollup.target},
        ).result_rows[0][0]
        keys = [part.strip() for part in key.split(",")]
        columns = [row[0] for row in client.query(f"DESCRIBE TABLE {rollup.target}").result_rows]
        sums = ", ".join(f"sum({c})" for c in columns if c not in keys)
        group = f"GROUP BY {key} ORDER BY ALL"
        rolled = client.query(f"SELECT {key}, {sums} FROM {rollup.target} {group}").result_rows
        raw = client.query(f"SELECT {key}, {sums} FROM ({rollup.select}) {group}").result_rows

        def nonzero(rows: Any, width: int = len(keys)) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in rows if any(value != 0 for value in row[width:])]

        # Keys and counters exactly; money up to float rounding (a sum of differences is not bit-identical).
        rolled_rows, raw_rows = nonzero(rolled), nonzero(raw)
        assert [row[: len(keys)] for row in rolled_rows] == [row[: len(keys)] for row in raw_rows], (
            rollup.target
        )
        for got, want in zip(rolled_rows, raw_rows, strict=True):
            width = len(keys)
            assert list(got[width:]) == pytest.approx(list(want[width:]), rel=1e-9, abs=1e-12), (
                rollup.target,
                got,
            )
    # The daily rollup is fed by the hourly one (0009_calls_1d.sql): re-pricing's difference rows reach it
    # through that view, so it must equal the hourly rollup summed per day.
    dims = "tenant, route, environment, provider, model, tier"
    counters = "sum(calls), sum(requests), sum(unpriced), sum(input_tokens), sum(cost_usd)"
    daily = client.query(
        f"SELECT bucket, {dims}, {counters} FROM llm_calls_1d GROUP BY bucket, {dims} "
        "HAVING sum(calls) != 0 ORDER BY ALL"
    ).result_rows
    hourly = client.query(
        f"SELECT toStartOfDay(bucket) AS day, {dims}, {counters} FROM llm_calls_1h GROUP BY day, {dims} "
        "HAVING sum(calls) != 0 ORDER BY ALL"
    ).result_rows
    assert daily and [row[:-1] for row in daily] == [row[:-1] for row in hourly]  # keys and counts exactly
    assert [row[-1] for row in daily] == pytest.approx([row[-1] for row in hourly], rel=1e-9, abs=1e-12)


def test_first_reprice_makes_stored_costs_genai_prices_and_keeps_rollups_in_agreement(
    clickhouse: Any, history: Any
) -> None:
    sources = {row[5] for row in calls(clickhouse).values()}
    assert sources <= {
        "genai-prices:openai/gpt-4o-mini",
        "genai-prices:openai/gpt-4o",
        "genai-prices:openai/gpt-5",
        "genai-prices:anthropic/claude-3-5-haiku-latest",
        "genai-prices:anthropic/claude-sonnet-4-0",
        "genai-prices:anthropic/claude-opus-4-1",
        "",
    }
    assert_rollups_agree(clickhouse)


def test_a_past_price_change_plus_reprice_changes_exactly_the_affected_calls(
    clickhouse: Any, settings: Any, history: Any
) -> None:
    before = calls(clickhouse)
    row = stores.add_override(
        history, model="gpt-4o", kind="discount", discount_pct=40, effective_from=CHANGE
    )
    result = reprice(clickhouse, settings, history, START)
    after = calls(clickhouse)

    affected = {span for span, v in before.items() if v[2] == "gpt-4o" and v[0].replace(tzinfo=UTC) >= CHANGE}
    assert affected and result.changed == len(affected)
    for span, old in before.items():
        new = after[span]
        if span in affected:
            assert new[4] == pytest.approx(old[4] * 0.6, rel=1e-9)
            assert new[5] == f"override:{row.id}"
        else:
            assert new == old  # earlier gpt-4o calls and every other model keep their cost
    assert_rollups_agree(clickhouse)


def test_reprice_for_one_tenant_leaves_the_others_alone(clickhouse: Any, settings: Any, history: Any) -> None:
    before = calls(clickhouse)
    stores.add_override(history, model="gpt-4o*", kind="discount", discount_pct=50, effective_from=START)
    reprice(clickhouse, settings, history, START, tenant="acme")
    after = calls(clickhouse)
    changed = {span for span in before if before[span] != after[span]}
    assert changed
    assert {before[span][1] for span in changed} == {"acme"}
    assert_rollups_agree(clickhouse)


def test_a_custom_price_turns_unpriced_self_hosted_calls_priced_in_raw_and_rollups(
    clickhouse: Any, settings: Any, history: Any
) -> None:
    unpriced_before = clickhouse.query("SELECT sum(unpriced) FROM llm_calls_1h").result_rows[0][0]
    assert unpriced_before > 0
    stores.add_override(
        history,
        model="house-7b",
        kind="custom",
        input_usd_per_mtok=0.1,
        output_usd_per_mtok=0.1,
        effective_from=START,
    )
    reprice(clickhouse, settings, history, START)
    assert clickhouse.query("SELECT sum(unpriced) FROM llm_calls_1h").result_rows[0][0] == 0
    assert clickhouse.query("SELECT countIf(unpriced) FROM llm_calls").result_rows[0][0] == 0
    assert_rollups_agree(clickhouse)


def test_repricing_again_changes_nothing(clickhouse: Any, settings: Any, history: Any) -> None:
    result = reprice(clickhouse, settings, history, START)
    assert result.scanned > 0 and result.changed == 0


def test_retier_after_a_tier_map_change_rewrites_tiers_since_the_date_and_rollups_follow(
    clickhouse: Any, settings: Any, history: Any
) -> None:
    retier(clickhouse, settings, history, START)  # the generator's own tiers → the tier map's
    before = calls(clickhouse)
    stores.add_rule(history, model_pattern="gpt-4o", tier="frontier")
    result = retier(clickhouse, settings, history, CHANGE)
    after = calls(clickhouse)
    affected = {span for span, v in before.items() if v[2] == "gpt-4o" and v[0].replace(tzinfo=UTC) >= CHANGE}
    assert result.changed == len(affected) > 0
    for span, old in before.items():
        if span in affected:
            assert (old[3], after[span][3]) == ("mid", "frontier")
        else:
            assert after[span] == old
    assert_rollups_agree(clickhouse)


def test_the_cli_reprices_locally_when_no_server_holds_the_data(
    clickhouse: Any,
    settings: Any,
    history: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tiermix_server.cli import main

    stores.add_override(history, model="gpt-5", kind="discount", discount_pct=10, effective_from=CHANGE)
    monkeypatch.setenv("TIERMIX_CLICKHOUSE_DATABASE", settings.clickhouse_database)
    argv = [
        "prices",
        "reprice",
        "--since",
        START.date().isoformat(),
        "--clickhouse-url",
        settings.clickhouse_url,
        "--database-url",
        settings.database_url,
        "--data-dir",
        str(settings.data_dir),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "reprice:" in out and "calls changed" in out
    assert (
        clickhouse.query("SELECT count() FROM llm_calls WHERE price_source LIKE 'override:%'").result_rows[0][
            0
        ]
        > 0
    )
    assert_rollups_agree(clickhouse)


def test_small_windows_and_several_mutations_give_the_same_result(
    clickhouse: Any, settings: Any, history: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiermix_server.pricing import reprice as module

    monkeypatch.setattr(module, "_WINDOW_ROWS", 97)
    monkeypatch.setattr(module, "_FLUSH_ROWS", 50)
    stores.add_override(history, model="claude*", kind="discount", discount_pct=20, effective_from=CHANGE)
    before = calls(clickhouse)
    result = reprice(clickhouse, settings, history, START)
    after = calls(clickhouse)
    affected = {
        span for span, v in before.items() if v[2].startswith("claude") and v[0].replace(tzinfo=UTC) >= CHANGE
    }
    assert result.changed == len(affected) > 50
    assert {s for s in before if before[s] != after[s]} == affected
    assert_rollups_agree(clickhouse)


def test_every_rollup_view_reads_the_raw_table_in_the_form_the_rebuild_narrows(
    clickhouse: Any, settings: Any
) -> None:
    from tiermix_server.pricing.reprice import rollups_of_calls

    rollups = rollups_of_calls(clickhouse, settings.clickhouse_database)
    assert rollups
    for rollup in rollups:
        assert f"FROM {settings.clickhouse_database}.llm_calls" in rollup.select


def test_a_rewrite_is_refused_while_another_holds_the_database(
    clickhouse: Any, settings: Any, history: Any
) -> None:
    from tiermix_server.meta.lease import Lease, rewrite_lock
    from tiermix_server.pricing.reprice import RewriteInProgress

    other = Lease(history, ttl_s=60, name=rewrite_lock(settings.clickhouse_database), holder="replica-b")
    assert other.acquire()
    stores.add_override(history, model="gpt-4o", kind="discount", discount_pct=40, effective_from=START)
    before = calls(clickhouse)
    with pytest.raises(RewriteInProgress, match="replica-b") as refused:
        reprice(clickhouse, settings, history, START)
    assert refused.value.http_status == 409
    assert calls(clickhouse) == before  # nothing was touched
    other.release()
    assert reprice(clickhouse, settings, history, START).changed > 0
    assert_rollups_agree(clickhouse)


def test_two_reprices_at_once_leave_the_rollups_exact(clickhouse: Any, settings: Any, history: Any) -> None:
    """A client retrying after a timeout: the second run waits its turn or is refused, never doubles."""
    import threading

    from tiermix_server.pricing.reprice import RewriteInProgress

    stores.add_override(history, model="gpt-4o*", kind="discount", discount_pct=30, effective_from=START)
    outcomes: list[str] = []

    def run() -> None:
        try:
            reprice(clickhouse, settings, history, START)
            outcomes.append("done")
        except RewriteInProgress:
            outcomes.append("refused")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert "done" in outcomes and len(outcomes) == 2
    assert_rollups_agree(clickhouse)


def test_calls_arriving_during_a_reprice_are_counted_once(
    clickhouse: Any, settings: Any, history: Any
) -> None:
    """New calls land in the very (tenant, route, minute) groups being rewritten while it runs."""
    import threading

    stores.add_override(history, model="gpt-4o*", kind="discount", discount_pct=50, effective_from=START)
    arrivals = generate_calls(START, END, seed=99, scenario=Scenario(requests=1_500))
    done = threading.Event()

    def arrive() -> None:
        for offset in range(0, len(arrivals), 25):  # many small inserts, spread over the rewrite
            insert_calls(clickhouse, arrivals[offset : offset + 25])
        done.set()

    sender = threading.Thread(target=arrive)
    sender.start()
    reprice(clickhouse, settings, history, START)
    sender.join(120)
    assert done.is_set()
    assert_rollups_agree(clickhouse)
