"""Scripted events at known times, so a demo always has something to find.

Every event is placed relative to an *anchor* (the moment the demo starts, or a fixed time in tests):

- a **frontier-share spike** on one tenant: a misconfigured router sends most of its requests straight
  to the frontier tier and its volume jumps — once in the history (three days back, two hours long) and
  once around the anchor (from ten minutes before to thirty minutes after), so a live alert fires;
- a **routing drift** on one route: a new router version moves the first cutoff down two days back, so
  more requests start on the mid tier from then on;
- a **new model** appearing on one route one day back (half of its small-tier traffic moves to it).
"""

from __future__ import annotations

from dataclasses import dataclass

from tiermix_server.demo.catalog import GPT_5_MINI, Model

NS_PER_S = 1_000_000_000
MINUTE_NS = 60 * NS_PER_S
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS

SPIKE = "frontier_spike"
DRIFT = "routing_drift"
NEW_MODEL = "new_model"

SPIKE_TENANT = "globex"
DRIFT_ROUTE = "support.answer"
NEW_MODEL_ROUTE = "extract.invoice"


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    start_ns: int
    end_ns: int | None  # None: lasts for ever
    tenant: str | None = None
    route: str | None = None
    model: Model | None = None

    def active(self, ts_ns: int) -> bool:
        return self.start_ns <= ts_ns and (self.end_ns is None or ts_ns < self.end_ns)

    def describe(self) -> str:
        what = {
            SPIKE: f"frontier-share spike on tenant {self.tenant}",
            DRIFT: f"routing drift on route {self.route} (router v2)",
            NEW_MODEL: f"new model {self.model.name if self.model else '?'} on route {self.route}",
        }[self.kind]
        return what


@dataclass(frozen=True, slots=True)
class Effects:
    """What the scenario changes for one request (tenant, route, time)."""

    spike: bool = False
    drift: bool = False
    new_model: Model | None = None


NO_EFFECTS = Effects()


@dataclass(frozen=True, slots=True)
class Scenario:
    anchor_ns: int
    events: tuple[Event, ...]

    @classmethod
    def default(cls, anchor_ns: int) -> Scenario:
        return cls(
            anchor_ns,
            (
                Event(
                    SPIKE, anchor_ns - 3 * DAY_NS, anchor_ns - 3 * DAY_NS + 2 * HOUR_NS, tenant=SPIKE_TENANT
                ),
                Event(SPIKE, anchor_ns - 10 * MINUTE_NS, anchor_ns + 30 * MINUTE_NS, tenant=SPIKE_TENANT),
                Event(DRIFT, anchor_ns - 2 * DAY_NS, None, route=DRIFT_ROUTE),
                Event(NEW_MODEL, anchor_ns - 1 * DAY_NS, None, route=NEW_MODEL_ROUTE, model=GPT_5_MINI),
            ),
        )

    @classmethod
    def quiet(cls, anchor_ns: int) -> Scenario:
        """No scripted events (baseline traffic only)."""
        return cls(anchor_ns, ())

    def volume_factor(self, tenant: str, ts_ns: int) -> float:
        """A spiking tenant also sends more: the misrouted traffic is a batch job's."""
        return 2.5 if self._spiking(tenant, ts_ns) else 1.0

    def effects(self, tenant: str, route: str, ts_ns: int) -> Effects:
        spike = drift = False
        new_model = None
        for event in self.events:
            if not event.active(ts_ns):
                continue
            if event.kind == SPIKE and event.tenant == tenant:
                spike = True
            elif event.kind == DRIFT and event.route == route:
                drift = True
            elif event.kind == NEW_MODEL and event.route == route:
                new_model = event.model
        if not (spike or drift or new_model):
            return NO_EFFECTS
        return Effects(spike, drift, new_model)

    def _spiking(self, tenant: str, ts_ns: int) -> bool:
        return any(e.kind == SPIKE and e.tenant == tenant and e.active(ts_ns) for e in self.events)
