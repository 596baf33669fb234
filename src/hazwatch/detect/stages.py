"""The detection stages that run after the limits, in one shape.

The limits are the vectorized first stage (columnar `Transitions`, applied by `AlarmManager.apply`).
Every other stage implements `Stage`: it observes each stored batch and each timer tick and
answers with findings (`domain/findings.py`), which the pipeline commits with the limits' changes
in one transaction. A stage is built from the pipeline (`Host`) whenever alarm state is built:
at start, after a recovery and when a scale-out worker's partitions change, so it restores what it
needs from the alarms that are active.

Adding a stage: one module with a class that takes a `Host`, and one line in `STAGES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from hazwatch.detect.multivariate.live import ANOM, UnitMonitor
from hazwatch.detect.rules.compound import RULE, RuleEngine
from hazwatch.detect.rules.quality import FAULTS, FLAT, RANGE, STALE, QualityMonitor
from hazwatch.detect.rules.trend import ROC, TREND, WARNINGS, TrendMonitor
from hazwatch.domain.batch import NO_TS, ReadingBatch
from hazwatch.domain.findings import RULE_POINT, SENSOR, SUPPRESS, UNIT, Finding
from hazwatch.domain.limits import Priority

if TYPE_CHECKING:
    from hazwatch.alarms.manager import AlarmManager
    from hazwatch.catalog.index import SensorIndex
    from hazwatch.domain import Clock
    from hazwatch.domain.clock import ReadingClock
    from hazwatch.normalize import Normalizer

# A dead gas detector matters as much as a high reading; a stuck value slightly less.
FAULT_PRIORITY = {STALE: int(Priority.HIGH), RANGE: int(Priority.HIGH), FLAT: int(Priority.MEDIUM)}
# A fast change is often the first sign of a leak or a runaway; a predicted crossing is advice.
WARNING_PRIORITY = {ROC: int(Priority.MEDIUM), TREND: int(Priority.LOW)}


class Host(Protocol):
    """What a stage may read of the pipeline when it is built and when the catalog changes."""

    index: SensorIndex
    clock: Clock
    reading_clock: ReadingClock
    normalizer: Normalizer
    alarms: AlarmManager

    def active_units(self) -> set[int]: ...

    def active_rules(self) -> set[int]: ...

    def suppressing(self) -> set[int]: ...


class Stage(Protocol):
    replays: bool  # whether it also runs over readings re-evaluated after a restart

    def observe(self, batch: ReadingBatch, index: SensorIndex) -> list[Finding]:
        """Findings from a stored batch (sorted by sensor, ts)."""

    def tick(self, now_us: int, index: SensorIndex) -> list[Finding]:
        """Findings that time alone makes (a silent sensor, a rule held long enough)."""

    def reload(self, index: SensorIndex) -> None:
        """The catalog changed: grow per-sensor arrays, load new definitions."""


StageFactory = Callable[[Host], Stage]


class QualityStage:
    """Sensor faults: STALE (a timer), FLAT and RANGE (from the batch and its validation)."""

    replays = False  # RANGE comes from the live validation; a replay has none

    def __init__(self, host: Host) -> None:
        self.host = host
        self.monitor = QualityMonitor(host.index.size, host.clock.now_us(), host.reading_clock)
        last = host.normalizer.last_ts
        stored = np.flatnonzero(last != NO_TS)
        self.monitor.restore((stored, last[stored]), [(p.sensor_id, p.condition) for p in host.alarms.points.values()
                                                      if p.active and p.condition in FAULTS])

    def _found(self, faults) -> list[Finding]:
        return [Finding(SENSOR, f.sensor, f.condition, f.active, f.ts, FAULT_PRIORITY[f.condition], f.value)
                for f in faults]

    def observe(self, batch: ReadingBatch, index: SensorIndex) -> list[Finding]:
        return self._found(self.monitor.observe(batch, index, self.host.normalizer.out_of_range))

    def tick(self, now_us: int, index: SensorIndex) -> list[Finding]:
        return self._found(self.monitor.tick(now_us, index))

    def reload(self, index: SensorIndex) -> None:
        self.monitor.grow(index.size)


class UnitStage:
    """Process-unit models (multivariate): one ANOM alarm per unit."""

    replays = True

    def __init__(self, host: Host) -> None:
        self.host = host
        self.monitor = UnitMonitor()
        self.monitor.load(host.index, host.active_units())

    def observe(self, batch: ReadingBatch, index: SensorIndex) -> list[Finding]:
        out = []
        for e in self.monitor.observe(batch, index):
            unit = (index.units or {}).get(e.unit_id)
            prio = int(Priority.parse(unit.priority if unit is not None else "medium"))
            out.append(Finding(UNIT, e.unit_id, ANOM, e.active, e.ts, prio, e.score, e.comment))
        return out

    def tick(self, now_us: int, index: SensorIndex) -> list[Finding]:
        return []

    def reload(self, index: SensorIndex) -> None:
        self.monitor.load(index, self.host.active_units())


class TrendStage:
    """Early warnings: rate of change (ROC) and trend to the limit (TREND)."""

    replays = True

    def __init__(self, host: Host) -> None:
        self.monitor = TrendMonitor(host.index.size)
        self.monitor.restore([(p.sensor_id, p.condition) for p in host.alarms.points.values()
                              if p.active and p.condition in WARNINGS])

    def observe(self, batch: ReadingBatch, index: SensorIndex) -> list[Finding]:
        return [Finding(SENSOR, w.sensor, w.condition, w.active, w.ts, WARNING_PRIORITY[w.condition], w.value,
                        w.comment) for w in self.monitor.observe(batch, index)]

    def tick(self, now_us: int, index: SensorIndex) -> list[Finding]:
        return []

    def reload(self, index: SensorIndex) -> None:
        self.monitor.grow(index.size)


class RuleStage:
    """Compound rules (RULE alarms) and sensors' state-based suppression."""

    replays = True

    def __init__(self, host: Host) -> None:
        self.host = host
        self.monitor = RuleEngine(host.reading_clock)
        self.monitor.load(host.index, host.active_rules(), host.suppressing())

    def _found(self, events, index: SensorIndex) -> list[Finding]:
        out = []
        for e in events:
            if e.kind == "suppress":
                out.append(Finding(SUPPRESS, e.rule_id, "", e.active, e.ts, comment=e.comment))
                continue
            rule = (index.rules or {}).get(e.rule_id)
            prio = int(Priority.parse(rule.priority if rule is not None else "high"))
            out.append(Finding(RULE_POINT, e.rule_id, RULE, e.active, e.ts, prio, comment=e.comment))
        return out

    def observe(self, batch: ReadingBatch, index: SensorIndex) -> list[Finding]:
        return self._found(self.monitor.observe(batch, index), index)

    def tick(self, now_us: int, index: SensorIndex) -> list[Finding]:
        return self._found(self.monitor.tick(now_us, index), index)

    def reload(self, index: SensorIndex) -> None:
        self.monitor.load(index, self.host.active_rules(), self.host.suppressing())


# The stages after the limits, in the order they run and their findings commit.
STAGES: list[StageFactory] = [QualityStage, UnitStage, TrendStage, RuleStage]
