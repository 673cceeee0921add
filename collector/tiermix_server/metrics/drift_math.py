"""The arithmetic of routing drift, kept pure so it can be property-tested.

- Jensen-Shannon distance (base 2): the square root of the JS divergence, in ``[0, 1]``, symmetric, 0 only
  for equal mixes, and defined even when one mix has a model the other lacks.
- PSI (population stability index): Σ (c - b)·ln(c / b) over models; shares are floored at ``PSI_FLOOR``
  so a model present on one side only gives a large finite value instead of infinity.
- Frontier-share decomposition: overall share F = Σ wᵢ·fᵢ over segments (weight wᵢ, segment share fᵢ).
  ΔF = Σ Δwᵢ·(fᵢ⁰ + fᵢ¹)/2 [traffic shift] + Σ Δfᵢ·(wᵢ⁰ + wᵢ¹)/2 [routing shift], exactly (the midpoint
  or Shapley split: no interaction term is left over and neither order is privileged).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

PSI_FLOOR = 1e-4


def shares(counts: Mapping[str, float]) -> dict[str, float]:
    total = sum(counts.values())
    return {key: value / total for key, value in counts.items()} if total > 0 else {}


def js_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """JS distance between two mixes given as counts or shares (normalised here)."""
    p, q = shares(p), shares(q)
    if not p or not q:
        return 0.0 if not p and not q else 1.0
    divergence = 0.0
    for key in set(p) | set(q):
        a, b = p.get(key, 0.0), q.get(key, 0.0)
        m = (a + b) / 2
        if a > 0:
            divergence += 0.5 * a * math.log2(a / m)
        if b > 0:
            divergence += 0.5 * b * math.log2(b / m)
    return math.sqrt(min(1.0, max(0.0, divergence)))


def psi(baseline: Mapping[str, float], current: Mapping[str, float], floor: float = PSI_FLOOR) -> float:
    b, c = shares(baseline), shares(current)
    if not b or not c:
        return 0.0
    total = 0.0
    for key in set(b) | set(c):
        bs, cs = max(b.get(key, 0.0), floor), max(c.get(key, 0.0), floor)
        total += (cs - bs) * math.log(cs / bs)
    return total


@dataclass(frozen=True, slots=True)
class SegmentShift:
    key: tuple[str, ...]
    weight_baseline: float
    weight_current: float
    share_baseline: float | None
    share_current: float | None
    traffic_shift: float
    routing_shift: float


@dataclass(frozen=True, slots=True)
class Decomposition:
    baseline: float | None
    current: float | None
    traffic_shift: float
    routing_shift: float
    segments: list[SegmentShift]

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline


def decompose(
    baseline: Mapping[tuple[str, ...], tuple[float, float]],
    current: Mapping[tuple[str, ...], tuple[float, float]],
) -> Decomposition:
    """Split the change of an overall share into traffic and routing shift.

    Each mapping is segment → (volume, volume counted as "frontier"). A segment missing on one side has
    weight 0 there and borrows the other side's share, so appearing or vanishing traffic is all traffic
    shift.
    """
    total_b = sum(v for v, _ in baseline.values())
    total_c = sum(v for v, _ in current.values())
    segments = []
    traffic = routing = 0.0
    for key in sorted(set(baseline) | set(current)):
        vb, hb = baseline.get(key, (0.0, 0.0))
        vc, hc = current.get(key, (0.0, 0.0))
        wb = vb / total_b if total_b else 0.0
        wc = vc / total_c if total_c else 0.0
        fb = hb / vb if vb else None
        fc = hc / vc if vc else None
        fb_eff = fb if fb is not None else (fc or 0.0)
        fc_eff = fc if fc is not None else fb_eff
        t = (wc - wb) * (fb_eff + fc_eff) / 2
        r = (fc_eff - fb_eff) * (wb + wc) / 2
        traffic += t
        routing += r
        segments.append(SegmentShift(key, wb, wc, fb, fc, t, r))
    overall_b = sum(h for _, h in baseline.values()) / total_b if total_b else None
    overall_c = sum(h for _, h in current.values()) / total_c if total_c else None
    if overall_b is None or overall_c is None:
        traffic = routing = 0.0
    return Decomposition(overall_b, overall_c, traffic, routing, segments)
