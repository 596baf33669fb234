"""Events the stages publish on the bus; subjects are stable names a remote bus can reuse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hazwatch.domain.batch import ReadingBatch

READINGS_STORED = "readings.stored"
ALARM_CHANGED = "alarm.changed"
INCIDENT_CHANGED = "incident.changed"


@dataclass(frozen=True, slots=True)
class ReadingsStored:
    batch: ReadingBatch


@dataclass(frozen=True, slots=True)
class AlarmChanged:
    alarm: dict[str, Any]  # the alarm's public form after the change
    event: str  # raised, cleared, acknowledged, shelved, ...
    org_id: int | None = None  # whose alarm it is (the enterprise, or the org of a park-wide rule)


@dataclass(frozen=True, slots=True)
class IncidentChanged:
    incident: dict[str, Any]  # the incident's public form after the change (without its timeline)
    event: str  # opened, escalated, acknowledged, assessing, responding, contained, closed, cancelled
