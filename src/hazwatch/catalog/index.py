"""The catalog as arrays indexed by sensor id: what the hot path needs, looked up with numpy."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hazwatch.catalog.models import CatalogMeta, Device, Endpoint, Org, Rule, Sensor, Unit
from hazwatch.catalog.owners import DeviceInfo, Owner, RuleInfo, UnitInfo, owner, owner_of
from hazwatch.domain.batch import US
from hazwatch.domain.limits import CONDITIONS, Priority
from hazwatch.domain.rulelang import parse as parse_rule


@dataclass(frozen=True)
class SensorIndex:
    """Immutable snapshot; a catalog change builds a new one and swaps the reference."""

    revision: int
    tag_to_id: dict[str, int]
    tags: np.ndarray  # object array: tag by id ("" where no sensor has that id)
    exists: np.ndarray  # bool
    range_low: np.ndarray
    range_high: np.ndarray
    limits: np.ndarray  # (n, 4) float64 in CONDITIONS order, NaN where not set
    priority: np.ndarray  # (n, 4) int8 Priority
    deadband: np.ndarray
    on_delay_us: np.ndarray  # int64
    off_delay_us: np.ndarray
    in_use: np.ndarray  # bool
    stale_us: np.ndarray  # int64: no reading for this long is a STALE fault (0 = not watched)
    flat_us: np.ndarray  # int64: an unchanged value for this long is a FLAT fault (0 = not watched)
    roc_limit: np.ndarray  # float64 units per minute, NaN = no rate-of-change alarm
    roc_window_us: np.ndarray  # int64
    roc_deadband: np.ndarray  # float64 units per minute
    trend_horizon_us: np.ndarray  # int64, 0 = no trend warning
    trend_window_us: np.ndarray  # int64
    org_id: np.ndarray  # int32, the enterprise of the sensor's device (scope checks)
    device_id: np.ndarray  # int32, the sensor's device (device credentials write only their own)
    info: dict[int, dict]  # per-sensor descriptive fields for the API (not the hot path)
    devices: dict[str, DeviceInfo]  # device code -> the device and its enterprise
    device_codes: dict[int, str]  # device id -> code
    units: dict[int, UnitInfo] = None  # type: ignore[assignment]  # unit id -> the unit and its enterprise
    rules: dict[int, RuleInfo] = None  # type: ignore[assignment]  # rule id -> the rule and its org
    suppress_when: dict[int, str] = None  # type: ignore[assignment]  # sensor id -> its state-suppression condition
    endpoints: dict[str, int] = None  # type: ignore[assignment]  # registered field endpoint address -> org id

    @property
    def size(self) -> int:
        return len(self.exists)

    def owner(self, *, sensor: int | None = None, device: int | None = None, unit: int | None = None,
              rule: int | None = None) -> Owner | None:
        """Whose is this alarm key: enterprise, hazard source, devices (catalog/owners.py)."""
        return owner(self, sensor=sensor, device=device, unit=unit, rule=rule)

    def owner_of(self, keys) -> Owner | None:
        """`owner` for an alarm point or alarm row (sensor_id, device_id, unit_id, rule_id)."""
        return owner_of(self, keys)

    def matching(self, sensor_ids: np.ndarray, enterprise: str | None, kind: str | None) -> list[int]:
        """Those of the sensors of this enterprise and kind (either None: any)."""
        return [sid for sid in sensor_ids.tolist() if (not enterprise or self.info[sid]["enterprise"] == enterprise)
                and (not kind or self.info[sid]["kind"] == kind)]

    def device_list(self, sensor_ids: list[int]) -> list[dict]:
        """The devices these sensors are on, each with its enterprise and those of its sensors."""
        out: dict[str, dict] = {}
        for sid in sensor_ids:
            info = self.info[sid]
            d = out.setdefault(info["device"], {"code": info["device"], "enterprise": info["enterprise"],
                                                "sensors": []})
            d["sensors"].append(info["tag"])
        return sorted(out.values(), key=lambda d: d["code"])

    def lookup(self, tags: list[str]) -> np.ndarray:
        """Sensor id per tag, -1 where unknown."""
        return np.fromiter(map(self.tag_to_id.get, tags, repeat(-1, len(tags))), np.int32, len(tags))

    @classmethod
    def load(cls, engine: Engine) -> SensorIndex:
        with Session(engine) as s:
            meta = s.get(CatalogMeta, 1)
            rows = list(s.scalars(select(Sensor).order_by(Sensor.id)))
            devices = {d.id: d for d in s.scalars(select(Device))}
            orgs = {o.id: o for o in s.scalars(select(Org))}
            n = (max((r.id for r in rows), default=0)) + 1
            idx = cls(
                revision=meta.revision if meta else 0,
                tag_to_id={r.tag: r.id for r in rows},
                tags=np.full(n, "", dtype=object),
                exists=np.zeros(n, bool),
                range_low=np.full(n, np.nan),
                range_high=np.full(n, np.nan),
                limits=np.full((n, 4), np.nan),
                priority=np.zeros((n, 4), np.int8),
                deadband=np.zeros(n),
                on_delay_us=np.zeros(n, np.int64),
                off_delay_us=np.zeros(n, np.int64),
                in_use=np.zeros(n, bool),
                stale_us=np.zeros(n, np.int64),
                flat_us=np.zeros(n, np.int64),
                roc_limit=np.full(n, np.nan),
                roc_window_us=np.zeros(n, np.int64),
                roc_deadband=np.zeros(n),
                trend_horizon_us=np.zeros(n, np.int64),
                trend_window_us=np.zeros(n, np.int64),
                org_id=np.full(n, -1, np.int32),
                device_id=np.full(n, -1, np.int32),
                info={},
                devices={d.code: DeviceInfo(d.id, d.code, orgs[d.org_id].code, d.org_id, d.hazard_source_id)
                         for d in devices.values()},
                device_codes={d.id: d.code for d in devices.values()},
                units={u.id: UnitInfo(u.id, u.code, u.name, orgs[u.org_id].code, u.org_id, u.hazard_source_id,
                                      u.priority, u.clear_rows, u.model)
                       for u in s.scalars(select(Unit).order_by(Unit.id))},
                rules={r.id: RuleInfo(r.id, r.code, r.name, orgs[r.org_id].code, r.org_id, r.when, r.priority,
                                      _tags(r.when))
                       for r in s.scalars(select(Rule).order_by(Rule.id))},
                suppress_when={r.id: r.suppress_when for r in rows if r.suppress_when},
                endpoints={a: o for a, o in s.execute(select(Endpoint.address, Endpoint.org_id))},
            )
            for r in rows:
                i = r.id
                dev = devices[r.device_id]
                idx.tags[i] = r.tag
                idx.exists[i] = True
                idx.range_low[i], idx.range_high[i] = r.range_low, r.range_high
                for k, cond in enumerate(CONDITIONS):
                    lim = getattr(r, cond.lower())
                    idx.limits[i, k] = np.nan if lim is None else lim
                    idx.priority[i, k] = Priority.parse(getattr(r, f"priority_{cond.lower()}"))
                idx.deadband[i] = r.deadband
                idx.on_delay_us[i] = round(r.on_delay_s * US)
                idx.off_delay_us[i] = round(r.off_delay_s * US)
                idx.in_use[i] = r.in_use
                idx.stale_us[i] = round(r.interval_s * r.stale_intervals * US) if r.interval_s else 0
                idx.flat_us[i] = round(r.flatline_s * US) if r.flatline_s else 0
                idx.roc_limit[i] = np.nan if r.roc_limit is None else r.roc_limit
                idx.roc_window_us[i] = round(r.roc_window_s * US)
                idx.roc_deadband[i] = r.roc_deadband
                idx.trend_horizon_us[i] = round(r.trend_horizon_s * US) if r.trend_horizon_s else 0
                idx.trend_window_us[i] = round(r.trend_window_s * US)
                idx.org_id[i] = dev.org_id
                idx.device_id[i] = dev.id
                idx.info[i] = {
                    "tag": r.tag, "name": r.name, "kind": r.kind, "unit": r.unit,
                    "device": dev.code, "enterprise": orgs[dev.org_id].code,
                    "range_low": r.range_low, "range_high": r.range_high,
                    "limits": {c: getattr(r, c.lower()) for c in CONDITIONS},
                    "priorities": {c: getattr(r, f"priority_{c.lower()}") for c in CONDITIONS},
                    "deadband": r.deadband, "on_delay_s": r.on_delay_s, "off_delay_s": r.off_delay_s,
                    "longitude": r.longitude, "latitude": r.latitude, "in_use": r.in_use,
                    "interval_s": r.interval_s, "stale_intervals": r.stale_intervals, "flatline_s": r.flatline_s,
                    "source": r.source, "roc_limit": r.roc_limit, "roc_window_s": r.roc_window_s,
                    "roc_deadband": r.roc_deadband, "trend_horizon_s": r.trend_horizon_s,
                    "trend_window_s": r.trend_window_s, "suppress_when": r.suppress_when,
                    "hazard_source_id": r.hazard_source_id,
                }
            return idx


def _tags(when: str) -> tuple[str, ...]:
    """The tags a stored rule reads (a stored rule was parsed when accepted; one that no longer
    parses reads nothing, and so is placed nowhere in particular)."""
    try:
        return tuple(parse_rule(when).tags())
    except ValueError:
        return ()
