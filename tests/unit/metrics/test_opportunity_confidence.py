"""An opportunity's confidence follows the bands that carry its money, not a stray small band."""

from __future__ import annotations

from tiermix_server.metrics.opportunities import BandEstimate, _confidence


def band(savings_low: float | None, low: float, high: float) -> BandEstimate:
    return BandEstimate("0-999", 100, 10.0, 0, "cascade", "small", "m", 100, 90, 100, 0, True, 0.9, low, high,
                        0.1, savings_low, savings_low, savings_low, low * 10.0)  # fmt: skip


def test_a_wide_interval_on_a_band_with_little_money_does_not_lower_it() -> None:
    assert _confidence([band(100.0, 0.90, 0.95), band(2.0, 0.2, 0.9)]) == "high"


def test_the_widest_band_that_carries_money_decides() -> None:
    assert _confidence([band(100.0, 0.90, 0.95), band(40.0, 0.5, 0.7)]) == "medium"
    assert _confidence([band(100.0, 0.4, 0.9)]) == "low"


def test_nothing_worth_moving_is_none() -> None:
    assert _confidence([band(-1.0, 0.1, 0.3), band(None, 0.0, 1.0)]) == "none"
    assert _confidence([]) == "none"
