"""What the detection stages say: alarm conditions turning on or off.

Limit transitions stay columnar (`Transitions`, many per batch); the other stages (sensor
faults, rates and trends, process-unit models, compound rules, and whatever comes next) say little
per batch and speak in findings, which `AlarmManager.apply_findings` turns into alarm changes in
the batch's one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hazwatch.domain.batch import TS_DTYPE

SENSOR, UNIT, RULE_POINT, SUPPRESS = "sensor", "unit", "rule", "suppress"


@dataclass(frozen=True, slots=True)
class Finding:
    target: str  # sensor | unit | rule | suppress (a sensor's state-based suppression)
    key: int  # the sensor, unit or rule id
    condition: str  # STALE, ROC, ANOM, RULE, ... (unused for suppress)
    active: bool
    ts: int  # µs, the reading time it became so
    priority: int = 0
    value: float | None = None
    comment: str | None = None


@dataclass(slots=True)
class Transitions:
    """Alarm condition changes: one entry per (sensor, condition) that switched on or off."""

    sensor: np.ndarray
    cond: np.ndarray  # index into CONDITIONS
    ts: np.ndarray
    value: np.ndarray
    active: np.ndarray

    def __len__(self) -> int:
        return len(self.sensor)

    @classmethod
    def empty(cls) -> Transitions:
        return cls(np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0, TS_DTYPE), np.zeros(0),
                   np.zeros(0, bool))

    def sorted(self) -> Transitions:
        order = np.lexsort((self.cond, self.ts))
        return Transitions(self.sensor[order], self.cond[order], self.ts[order], self.value[order],
                           self.active[order])
