"""Whose is this: the typed catalog entries the SensorIndex carries beside its arrays, and the one
answer to "which enterprise, hazard source and devices does this alarm key belong to".

Alarm points are keyed by exactly one of a sensor, a device, a process unit or a compound rule.
Scope checks (the API's Access), alarm areas and first-out groups (the pipeline), alarm texts
(alarms.manager), the tier uplink and the incident desk all ask the same question; they ask it
here, so they cannot disagree about an alarm's owner or check in different orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hazwatch.catalog.index import SensorIndex


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: int
    code: str
    enterprise: str  # the owning enterprise's code
    org_id: int
    hazard_source_id: int | None


@dataclass(frozen=True, slots=True)
class UnitInfo:
    id: int
    code: str
    name: str
    enterprise: str
    org_id: int
    hazard_source_id: int | None
    priority: str
    clear_rows: int
    model: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: int
    code: str
    name: str
    enterprise: str  # the code of the org that owns the rule (an enterprise, or a park above several)
    org_id: int
    when: str
    priority: str
    tags: tuple[str, ...]  # the sensors its condition reads


@dataclass(frozen=True, slots=True)
class Owner:
    """Where an alarm key belongs. `hazard_source_id` is the sensor's, else its device's; a rule's is
    the one hazard source all its sensors sit on (None when they sit on several)."""

    kind: str  # sensor, device, unit, rule
    code: str  # tag, device code, unit code or rule code
    org_id: int
    enterprise: str
    hazard_source_id: int | None
    devices: frozenset[str]  # device codes involved (a rule's: those of all its sensors)
    sensor_id: int | None = None
    sensor_kind: str | None = None

    @property
    def label(self) -> str:
        """How a timeline or a notification names the alarm's source (codes, not words)."""
        return self.code if self.kind == "sensor" else f"{self.kind} {self.code}"


def owner(index: SensorIndex, *, sensor: int | None = None, device: int | None = None, unit: int | None = None,
          rule: int | None = None) -> Owner | None:
    """The owner of the first key given (an alarm has exactly one); None where it is not in the
    index (deleted, or outside a scale-out worker's partitions)."""
    if sensor is not None:
        return _sensor(index, sensor)
    if device is not None:
        code = index.device_codes.get(device)
        d = index.devices.get(code) if code is not None else None
        if d is None:
            return None
        return Owner("device", d.code, d.org_id, d.enterprise, d.hazard_source_id, frozenset({d.code}))
    if unit is not None:
        u = (index.units or {}).get(unit)
        if u is None:
            return None
        return Owner("unit", u.code, u.org_id, u.enterprise, u.hazard_source_id, frozenset())
    if rule is not None:
        r = (index.rules or {}).get(rule)
        return None if r is None else _rule(index, r)
    return None


def owner_of(index: SensorIndex, keys: Any) -> Owner | None:
    """`owner` for an alarm point or an alarm row (attributes or mapping keys *_id)."""
    get = keys.get if isinstance(keys, dict) or hasattr(keys, "keys") else lambda k: getattr(keys, k, None)
    return owner(index, sensor=get("sensor_id"), device=get("device_id"), unit=get("unit_id"), rule=get("rule_id"))


def _sensor(index: SensorIndex, sid: int) -> Owner | None:
    if sid < 0 or sid >= index.size or not index.exists[sid]:
        return None
    info = index.info[sid]
    dev = index.devices.get(info["device"])
    hs = info.get("hazard_source_id")
    if hs is None and dev is not None:
        hs = dev.hazard_source_id
    return Owner("sensor", info["tag"], int(index.org_id[sid]), info["enterprise"], hs,
                 frozenset({info["device"]}), sid, info["kind"])


def _rule(index: SensorIndex, r: RuleInfo) -> Owner:
    sources: set[int | None] = set()
    devices: set[str] = set()
    for tag in r.tags:
        sid = index.tag_to_id.get(tag)
        placed = _sensor(index, sid) if sid is not None else None
        if placed is None:  # a sensor outside this index: the rule is nowhere in particular
            return Owner("rule", r.code, r.org_id, r.enterprise, None, frozenset())
        sources.add(placed.hazard_source_id)
        devices |= placed.devices
    hs = next(iter(sources)) if len(sources) == 1 else None
    return Owner("rule", r.code, r.org_id, r.enterprise, hs, frozenset(devices))
