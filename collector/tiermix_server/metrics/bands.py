"""How right-sizing slices first attempts: input-token bands and routing-score bins.

One definition for Python and SQL; migrations/clickhouse/0005_calls_by_band.sql stores the same
expressions in the ``llm_calls_by_band_1d`` rollup (the integration tests compare it with raw rows).
"""

from __future__ import annotations

# Input-token bands: [lower, upper) token counts. Upper bounds are chosen where providers' long-context
# prices and models' quality usually change. A long-context slice is never judged by short prompts.
BANDS: tuple[tuple[int, int | None], ...] = ((0, 1_000), (1_000, 4_000), (4_000, 16_000), (16_000, 64_000),
                                             (64_000, None))  # fmt: skip
# Routing scores are read on [0, 1] (probabilities, win rates: what routers such as RouteLLM's give) in
# SCORE_BINS equal bins; a score outside [0, 1] is counted as such, never placed.
SCORE_BINS = 20
NO_SCORE = -1
OUT_OF_RANGE = -2


def band_label(index: int) -> str:
    low, high = BANDS[index]
    return f"{low}+" if high is None else f"{low}-{high - 1}"


def band_sql(column: str) -> str:
    cases = ", ".join(f"{column} < {high}, {index}" for index, (_, high) in enumerate(BANDS) if high)
    return f"multiIf({cases}, {len(BANDS) - 1})"


def score_bin_sql(column: str) -> str:
    finite = f"if(isFinite({column}), {column}, 0)"
    return (
        f"multiIf({column} IS NULL, {NO_SCORE}, NOT isFinite({column}) OR {column} < 0 OR {column} > 1, "
        f"{OUT_OF_RANGE}, toInt8(least(floor({finite} * {SCORE_BINS}), {SCORE_BINS - 1})))"
    )


def bin_edges() -> list[float]:
    """The scores where bins start, and 1.0: bin i holds scores in [edges[i], edges[i + 1])."""
    return [i / SCORE_BINS for i in range(SCORE_BINS + 1)]


def higher_goes_up(top_bin_sum: float, top_scored: int, other_bin_sum: float, other_scored: int) -> bool:
    """Whether a higher score sends a request to the top tier, read from today's traffic: the mean score
    bin of the scored requests that started on the top tier against the others' (sums of bin x requests
    and counts). Unknown (one side without scored requests) reads as yes."""
    if not top_scored or not other_scored:
        return True
    return top_bin_sum / top_scored >= other_bin_sum / other_scored
