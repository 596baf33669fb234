"""Where an active alarm is, for the incident desk, and which trigger it fires. The place comes from
the index's one answer to whose an alarm is (SensorIndex.owner); the desk adds the codes a person
reads (a hazard source's, else a device's)."""

from __future__ import annotations

from dataclasses import dataclass

from hazwatch.catalog.index import SensorIndex
from hazwatch.catalog.schema import TriggerDoc
from hazwatch.domain.batch import US
from hazwatch.domain.limits import Priority
from hazwatch.incidents.catalog import DisposalCatalog


@dataclass(frozen=True)
class Located:
    org_id: int
    hazard_source_id: int | None
    location: str | None  # hazard source code, else device code
    devices: frozenset[str]
    kind: str | None  # the sensor's kind, for the default hazard type
    label: str  # how the timeline names the alarm
    sensor_id: int | None
    source: str  # what the alarm is keyed by: sensor, device, unit, rule
    code: str  # the tag, device, unit or rule code


def locate(index: SensorIndex, a, cat: DisposalCatalog) -> Located | None:
    """Where an alarm is, from the index's one answer to whose it is (catalog/owners.py): at its
    hazard source, else at its one device, else (a rule across devices) nowhere in particular."""
    o = index.owner_of(a)
    if o is None:
        return None
    device = next(iter(o.devices)) if len(o.devices) == 1 else None
    hs = o.hazard_source_id
    location = cat.hazards[hs][0] if hs in cat.hazards else device
    devices = o.devices if location is not None else frozenset()
    label = o.label if o.kind == "rule" else f"{o.label} {a['condition']}"
    return Located(o.org_id, hs, location, devices, o.sensor_kind, label, o.sensor_id, o.kind, o.code)

def matches(t: TriggerDoc, org: int, a, where: Located, cat: DisposalCatalog, now: int) -> bool:
    """Whether trigger `t` of `org` fires for the active alarm `a` (held long enough by `now`)."""
    if org not in cat.above(where.org_id) or a["condition"] not in t.conditions:
        return False
    if a["priority"] < int(Priority.parse(t.min_priority)):
        return False
    if t.major_hazard_only and where.hazard_source_id is None:
        return False
    if t.sensor_kinds and where.kind not in t.sensor_kinds:
        return False
    if t.rule is not None and (where.source, where.code) != ("rule", t.rule):
        return False
    if t.unit is not None and (where.source, where.code) != ("unit", t.unit):
        return False
    if t.locations and not ({where.location} | where.devices).intersection(t.locations):
        return False
    return a["raised_at"] + int(t.hold_s * US) <= now
