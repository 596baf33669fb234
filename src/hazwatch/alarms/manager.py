"""The alarm points of the installation and every change to them.

One writer owns this object (the pipeline's serial executor), so there are no locks: limit
transitions, operator commands and shelving expiry all arrive through the same queue. Every change
is journaled in the caller's transaction together with whatever else that transaction holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from hazwatch.alarms import states
from hazwatch.alarms.models import Alarm, AlarmJournal
from hazwatch.catalog.index import SensorIndex
from hazwatch.detect.rules.limits import Transitions
from hazwatch.domain.batch import US
from hazwatch.domain.limits import CONDITIONS, Priority

_A = Alarm.__table__
_J = AlarmJournal.__table__
SYSTEM = "system"


class AlarmCommandError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class AlarmPoint:
    id: int
    sensor_id: int | None
    condition: str
    priority: int
    active: bool = False
    acknowledged: bool = True
    shelved_until: int | None = None
    suppressed: bool = False
    out_of_service: bool = False
    raised_at: int | None = None
    cleared_at: int | None = None
    value: float | None = None
    changed_at: int = 0
    device_id: int | None = None  # set instead of sensor_id for a device's communication-loss alarm
    unit_id: int | None = None  # set instead of sensor_id for a unit's multivariate anomaly alarm
    rule_id: int | None = None  # set instead of sensor_id for a compound rule's alarm

    @property
    def state(self) -> str:
        return states.state_name(self.active, self.acknowledged, self.shelved_until is not None,
                                 self.suppressed, self.out_of_service)

    def row(self) -> dict:
        return {k: getattr(self, k) for k in (
            "priority", "active", "acknowledged", "shelved_until", "suppressed", "out_of_service",
            "raised_at", "cleared_at", "value", "changed_at")}


def iso(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us / US, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public(p: AlarmPoint, index: SensorIndex) -> dict:
    unit = rule = None
    if p.rule_id is not None:
        r = (index.rules or {}).get(p.rule_id, {})
        rule = r.get("code")
        info = {"enterprise": r.get("org")}
    elif p.unit_id is not None:
        u = (index.units or {}).get(p.unit_id, {})
        unit = u.get("code")
        info = {"enterprise": u.get("enterprise")}
    elif p.device_id is not None:
        code = index.device_codes.get(p.device_id)
        info = {"device": code, "enterprise": index.devices[code][1] if code in index.devices else None}
    else:
        info = index.info.get(p.sensor_id, {})
    return {
        "id": p.id, "sensor": info.get("tag"), "sensor_name": info.get("name"), "device": info.get("device"),
        "enterprise": info.get("enterprise"), "condition": p.condition,
        "priority": Priority(p.priority).label, "state": p.state, "active": p.active,
        "acknowledged": p.acknowledged, "raised_at": iso(p.raised_at), "cleared_at": iso(p.cleared_at),
        "value": p.value, "unit": info.get("unit"),
        "limit": (info.get("limits") or {}).get(p.condition),
        "shelved_until": iso(p.shelved_until), "suppressed": p.suppressed, "out_of_service": p.out_of_service,
        "process_unit": unit, "rule": rule,
    }


@dataclass(frozen=True)
class Change:
    point: AlarmPoint
    event: str


class AlarmManager:
    def __init__(self, engine: Engine) -> None:
        self.points: dict[tuple[int, str], AlarmPoint] = {}
        self.device_points: dict[tuple[int, str], AlarmPoint] = {}
        self.unit_points: dict[tuple[int, str], AlarmPoint] = {}
        self.rule_points: dict[tuple[int, str], AlarmPoint] = {}
        self.by_id: dict[int, AlarmPoint] = {}
        with engine.connect() as conn:
            for r in conn.execute(select(_A)).mappings():
                self._keep(AlarmPoint(**dict(r)))

    def _keep(self, p: AlarmPoint) -> None:
        if p.rule_id is not None:
            self.rule_points[(p.rule_id, p.condition)] = p
        elif p.unit_id is not None:
            self.unit_points[(p.unit_id, p.condition)] = p
        elif p.device_id is not None:
            self.device_points[(p.device_id, p.condition)] = p
        else:
            self.points[(p.sensor_id, p.condition)] = p
        self.by_id[p.id] = p

    @staticmethod
    def _entry(p: AlarmPoint, event: str, ts: int, now: int, actor: str, comment: str | None = None) -> dict:
        return {"alarm_id": p.id, "ts": ts, "recorded_at": now, "event": event, "actor": actor,
                "comment": comment, "value": p.value, "state": p.state}

    @staticmethod
    def _write(conn: Connection, points: list[AlarmPoint], entries: list[dict]) -> None:
        """One executemany for the points and one for the journal, however large an alarm flood."""
        if points:
            conn.execute(update(_A).where(_A.c.id == bindparam("_id")),
                         [{"_id": p.id, **p.row()} for p in points])
        if entries:
            conn.execute(insert(_J), entries)

    def _journal(self, conn: Connection, p: AlarmPoint, event: str, ts: int, now: int, actor: str,
                 comment: str | None = None) -> Change:
        self._write(conn, [p], [self._entry(p, event, ts, now, actor, comment)])
        return Change(p, event)

    def apply(self, conn: Connection, tr: Transitions, index: SensorIndex, now: int) -> list[Change]:
        """Turn limit transitions into alarm state changes (transitions are few; a loop is fine)."""
        changes: list[Change] = []
        entries: list[dict] = []
        for s, k, ts, value, on in zip(tr.sensor.tolist(), tr.cond.tolist(), tr.ts.tolist(),
                                       tr.value.tolist(), tr.active.tolist(), strict=True):
            cond = CONDITIONS[k]
            p = self.points.get((s, cond))
            value = None if value != value else value
            if p is None:
                if not on:
                    continue
                prio = int(index.priority[s, k]) if s < index.size else int(Priority.MEDIUM)
                new = AlarmPoint(id=0, sensor_id=s, condition=cond, priority=prio, changed_at=now)
                row = new.row()
                new.id = conn.execute(insert(_A).values(sensor_id=s, condition=cond, **row)).inserted_primary_key[0]
                p = new
                self._keep(p)
            if on:
                if p.active:
                    continue
                p.active, p.acknowledged, p.raised_at, p.cleared_at, p.value = True, False, ts, None, value
                if s < index.size:
                    p.priority = int(index.priority[s, k])
                event = "raised"
            else:
                if not p.active:
                    continue
                p.active, p.cleared_at, p.value = False, ts, value
                event = "cleared"
            p.changed_at = now
            entries.append(self._entry(p, event, ts, now, SYSTEM))
            changes.append(Change(p, event))
        # A point can change twice in one batch: its final row is what counts.
        self._write(conn, list({c.point.id: c.point for c in changes}.values()), entries)
        return changes

    def set_device_condition(self, conn: Connection, device_id: int, condition: str, active: bool, ts: int,
                             now: int, priority: int = int(Priority.HIGH), comment: str | None = None) -> list[Change]:
        """Raise or clear a device-level alarm (communication loss); a no-op when already so."""
        return self._set(conn, self.device_points, "device_id", device_id, condition, active, ts, now, priority,
                         comment, None)

    def set_unit_condition(self, conn: Connection, unit_id: int, condition: str, active: bool, ts: int, now: int,
                           priority: int, value: float | None = None, comment: str | None = None) -> list[Change]:
        """Raise or clear a unit's anomaly alarm; the comment names the sensors behind it."""
        return self._set(conn, self.unit_points, "unit_id", unit_id, condition, active, ts, now, priority, comment,
                         value)

    def set_rule_condition(self, conn: Connection, rule_id: int, condition: str, active: bool, ts: int, now: int,
                           priority: int, comment: str | None = None) -> list[Change]:
        """Raise or clear a compound rule's alarm; the comment says which inputs made it true."""
        return self._set(conn, self.rule_points, "rule_id", rule_id, condition, active, ts, now, priority, comment,
                         None)

    def set_sensor_condition(self, conn: Connection, sensor_id: int, condition: str, active: bool, ts: int,
                             now: int, priority: int, value: float | None = None,
                             comment: str | None = None) -> list[Change]:
        """Raise or clear a sensor fault (stale, flatline, out of range); a no-op when already so."""
        return self._set(conn, self.points, "sensor_id", sensor_id, condition, active, ts, now, priority, comment,
                         value)

    def _set(self, conn: Connection, pool: dict, column: str, key: int, condition: str, active: bool, ts: int,
             now: int, priority: int, comment: str | None, value: float | None) -> list[Change]:
        p = pool.get((key, condition))
        if p is None:
            if not active:
                return []
            p = AlarmPoint(id=0, sensor_id=None, condition=condition, priority=priority, changed_at=now)
            setattr(p, column, key)
            p.id = conn.execute(insert(_A).values({column: key, "condition": condition, **p.row()})
                                ).inserted_primary_key[0]
            self._keep(p)
        if p.active == active:
            return []
        if active:
            p.active, p.acknowledged, p.raised_at, p.cleared_at = True, False, ts, None
        else:
            p.active, p.cleared_at = False, ts
        p.value, p.changed_at = value, now
        event = "raised" if active else "cleared"
        return [self._journal(conn, p, event, ts, now, SYSTEM, comment)]

    def get(self, alarm_id: int) -> AlarmPoint:
        p = self.by_id.get(alarm_id)
        if p is None:
            raise AlarmCommandError(404, f"alarm {alarm_id} not found")
        return p

    def command(self, conn: Connection, alarm_id: int, action: str, actor: str, now: int,
                comment: str | None = None, minutes: float | None = None, max_minutes: float = 1440) -> Change:
        p = self.get(alarm_id)
        if action == "ack":
            if p.acknowledged:
                raise AlarmCommandError(409, f"alarm {alarm_id} is already acknowledged")
            p.acknowledged = True
            event = "acknowledged"
        elif action == "shelve":
            if minutes is None or not 0 < minutes <= max_minutes:
                raise AlarmCommandError(422, f"minutes must be above 0 and at most {max_minutes:g}")
            if p.out_of_service:
                raise AlarmCommandError(409, f"alarm {alarm_id} is out of service")
            p.shelved_until = now + int(minutes * 60 * US)
            event = "shelved"
        elif action == "unshelve":
            if p.shelved_until is None:
                raise AlarmCommandError(409, f"alarm {alarm_id} is not shelved")
            p.shelved_until = None
            event = "unshelved"
        elif action in ("suppress", "unsuppress"):
            if p.suppressed == (action == "suppress"):
                raise AlarmCommandError(409, f"alarm {alarm_id} is already {'un' * (action != 'suppress')}suppressed")
            p.suppressed = action == "suppress"
            event = "suppressed" if p.suppressed else "unsuppressed"
        elif action in ("remove_from_service", "return_to_service"):
            out = action == "remove_from_service"
            if p.out_of_service == out:
                raise AlarmCommandError(409, f"alarm {alarm_id} is already {'out of' if out else 'in'} service")
            p.out_of_service = out
            event = "out_of_service" if out else "in_service"
        elif action == "comment":
            if not comment:
                raise AlarmCommandError(422, "a comment needs text")
            return self._journal(conn, p, "commented", now, now, actor, comment)
        else:
            raise AlarmCommandError(422, f"unknown action {action!r}")
        p.changed_at = now
        return self._journal(conn, p, event, now, now, actor, comment)

    def expire_shelving(self, conn: Connection, now: int) -> list[Change]:
        changes = []
        for p in self.by_id.values():
            if p.shelved_until is not None and p.shelved_until <= now:
                expired_at = p.shelved_until
                p.shelved_until, p.changed_at = None, now
                changes.append(self._journal(conn, p, "shelve_expired", expired_at, now, SYSTEM))
        return changes
