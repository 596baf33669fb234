"""What a detection stage says: one alarm point's condition turning on or off.

Limit transitions stay columnar (`Transitions`, many per batch); the other stages (sensor
faults, rates and trends, process-unit models, compound rules, and whatever comes next) say little
per batch and speak in findings, which `AlarmManager.apply_findings` turns into alarm changes in
the batch's one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

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
