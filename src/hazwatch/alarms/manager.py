"""The alarm points of the installation and every change to them.

One writer owns this object (the pipeline's serial executor), so there are no locks: limit
transitions, operator commands and shelving expiry all arrive through the same queue. Every change
is journaled in the caller's transaction together with whatever else that transaction holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from hazwatch.alarms import states
from hazwatch.alarms.hygiene import AreaWindow, Flood, Hygiene, HygienePolicy
from hazwatch.alarms.models import Alarm, AlarmFlood, AlarmJournal
from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso
from hazwatch.domain.findings import RULE_POINT, SENSOR, SUPPRESS, UNIT, Finding, Transitions
from hazwatch.domain.limits import CONDITIONS, Priority

_A = Alarm.__table__
_J = AlarmJournal.__table__
_F = AlarmFlood.__table__
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
    suppressed_until: int | None = None  # an automatic suppression's expiry (chatter)
    suppression: str | None = None  # why it is suppressed: operator | chatter | state
    chattering: bool = False
    first_out_id: int | None = None  # the first alarm of its group, which stands for this one

    @property
    def state(self) -> str:
        return states.state_name(self.active, self.acknowledged, self.shelved_until is not None,
                                 self.suppressed, self.out_of_service)

    def row(self) -> dict:
        return {k: getattr(self, k) for k in (
            "priority", "active", "acknowledged", "shelved_until", "suppressed", "out_of_service",
            "raised_at", "cleared_at", "value", "changed_at", "suppressed_until", "suppression", "chattering",
            "first_out_id")}


_ASK = object()


def public(p: AlarmPoint, index: SensorIndex, owner=_ASK) -> dict:
    """The alarm as the API and the live stream show it. `owner` is `index.owner_of(p)` when the
    caller has it already (the writer publishing a change, a scoped list), so it is looked up once."""
    if owner is _ASK:
        owner = index.owner_of(p)
    unit = owner.code if owner is not None and owner.kind == "unit" else None
    rule = owner.code if owner is not None and owner.kind == "rule" else None
    info: dict = index.info.get(p.sensor_id, {}) if p.sensor_id is not None else {}
    if owner is not None and owner.kind == "device":
        info = {"device": owner.code}
    if owner is not None:
        info = info | {"enterprise": owner.enterprise}
    return {
        "id": p.id, "sensor": info.get("tag"), "sensor_name": info.get("name"), "device": info.get("device"),
        "enterprise": info.get("enterprise"), "condition": p.condition,
        "priority": Priority(p.priority).label, "state": p.state, "active": p.active,
        "acknowledged": p.acknowledged, "raised_at": iso(p.raised_at), "cleared_at": iso(p.cleared_at),
        "value": p.value, "unit": info.get("unit"),
        "limit": (info.get("limits") or {}).get(p.condition),
        "shelved_until": iso(p.shelved_until), "suppressed": p.suppressed, "out_of_service": p.out_of_service,
        "process_unit": unit, "rule": rule, "suppression": p.suppression if p.suppressed else None,
        "suppressed_until": iso(p.suppressed_until), "chattering": p.chattering, "first_out": p.first_out_id,
    }


@dataclass(frozen=True)
class Change:
    point: AlarmPoint
    event: str


class AlarmManager:
    # (area org id or None, first-out group key or None) of an alarm point; set by the pipeline, which
    # knows the catalog
    locate: Callable[[AlarmPoint], tuple[int | None, object | None]] = staticmethod(lambda p: (None, None))

    def __init__(self, engine: Engine, policy: HygienePolicy | None = None,
                 locate: Callable[[AlarmPoint], tuple[int | None, object | None]] | None = None,
                 owned: Callable[[AlarmPoint], bool] | None = None) -> None:
        """`owned` keeps only some alarms (a scale-out worker's partitions); `locate` as above."""
        if locate is not None:
            self.locate = locate
        self.hygiene = Hygiene(policy)
        self._roots: dict[object, AlarmPoint] = {}  # group key -> the group's newest first-out alarm
        self.points: dict[tuple[int, str], AlarmPoint] = {}
        self.device_points: dict[tuple[int, str], AlarmPoint] = {}
        self.unit_points: dict[tuple[int, str], AlarmPoint] = {}
        self.rule_points: dict[tuple[int, str], AlarmPoint] = {}
        self.by_id: dict[int, AlarmPoint] = {}
        with engine.connect() as conn:
            areas = set()
            for r in conn.execute(select(_A)).mappings():
                p = AlarmPoint(**dict(r))
                if owned is None or owned(p):
                    self._keep(p)
                    areas.add(self.locate(p)[0])
            # floods open at the last stop: the first tick closes them unless the alarms keep coming
            for f in conn.execute(select(_F).where(_F.c.ended_at.is_(None))).mappings():
                if owned is not None and f["org_id"] not in areas:
                    continue
                self.hygiene.areas[f["org_id"]] = AreaWindow(flood=Flood(f["id"], f["org_id"], f["started_at"],
                                                                         f["peak"], f["alarms"]))

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
            notes: list[dict] = []
            if on:
                if p.active:
                    continue
                p.active, p.acknowledged, p.raised_at, p.cleared_at, p.value = True, False, ts, None, value
                if s < index.size:
                    p.priority = int(index.priority[s, k])
                event = "raised"
                comment, notes = self._raised(conn, p, ts, now)
            else:
                if not p.active:
                    continue
                p.active, p.cleared_at, p.value = False, ts, value
                event, comment = "cleared", None
            p.changed_at = now
            entries.append(self._entry(p, event, ts, now, SYSTEM, comment))
            entries += notes
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

    def apply_findings(self, conn: Connection, findings: list[Finding], now: int) -> list[Change]:
        """The detection stages' findings, in their order, as alarm changes in the caller's transaction."""
        changes: list[Change] = []
        for f in findings:
            if f.target == SENSOR:
                changes += self.set_sensor_condition(conn, f.key, f.condition, f.active, f.ts, now, f.priority,
                                                     f.value, f.comment)
            elif f.target == UNIT:
                changes += self.set_unit_condition(conn, f.key, f.condition, f.active, f.ts, now, f.priority,
                                                   f.value, f.comment)
            elif f.target == RULE_POINT:
                changes += self.set_rule_condition(conn, f.key, f.condition, f.active, f.ts, now, f.priority,
                                                   f.comment)
            elif f.target == SUPPRESS:
                changes += self.state_suppress(conn, f.key, f.active, f.comment or "", f.ts, now)
            else:
                raise ValueError(f"a finding for an unknown kind of alarm point: {f.target!r}")
        return changes

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
        notes: list[dict] = []
        p.value, p.changed_at = value, now
        if active:
            p.active, p.acknowledged, p.raised_at, p.cleared_at = True, False, ts, None
            note, notes = self._raised(conn, p, ts, now)
            comment = "; ".join(c for c in (comment, note) if c) or None
        else:
            p.active, p.cleared_at = False, ts
        event = "raised" if active else "cleared"
        self._write(conn, [p], [self._entry(p, event, ts, now, SYSTEM, comment), *notes])
        return [Change(p, event)]

    # -- flood control -----------------------------------------------------------------------------------
    def _raised(self, conn: Connection, p: AlarmPoint, ts: int, now: int) -> tuple[str | None, list[dict]]:
        """Flood, chatter, state suppression and first-out for a raise: a note for the raise's journal
        entry, and journal entries of their own (after the raise)."""
        pol = self.hygiene.policy
        area, group = self.locate(p)
        notes: list[str] = []
        entries: list[dict] = []
        if area is not None:
            started, n = self.hygiene.count_raise(area, ts)
            if started:
                fid = conn.execute(insert(_F).values(org_id=area, started_at=ts, alarms=n, peak=n)).inserted_primary_key
                self.hygiene.areas[area].flood = Flood(fid[0], area, ts, n, n)
                notes.append(f"flood started: {n} alarms in {pol.flood_window_s / 60:g} min in this area")
            elif self.hygiene.flooding(area) is not None:  # its row's counts are brought up to date by the tick
                notes.append("raised during a flood")
        if group is not None:
            root = self._roots.get(group)
            window = int(pol.first_out_window_s * US)
            if (root is not None and root.id != p.id and root.active and root.raised_at is not None
                    and ts - root.raised_at <= window):
                p.first_out_id = root.id
                notes.append(f"consequence of alarm {root.id} (first out)")
            else:
                p.first_out_id = None
                self._roots[group] = p
        n = self.hygiene.chatters(p.id, ts)
        if n and not p.chattering:
            p.chattering = True
            entries.append(self._entry(p, "chattering", ts, now, SYSTEM,
                                       f"{n} activations in {pol.chatter_window_s:g} s"))
        if n and pol.chatter_suppress_s > 0 and not p.suppressed:
            p.suppressed, p.suppression = True, "chatter"
            p.suppressed_until = now + int(pol.chatter_suppress_s * US)
            entries.append(self._entry(p, "suppressed", ts, now, SYSTEM,
                                       f"chattering: suppressed for {pol.chatter_suppress_s:g} s"))
        why = self.hygiene.state_suppressed.get(p.sensor_id) if p.sensor_id is not None else None
        if why is not None and not p.suppressed:
            p.suppressed, p.suppression, p.suppressed_until = True, "state", None
            entries.append(self._entry(p, "suppressed", ts, now, SYSTEM, f"state-based: {why}"))
        return ("; ".join(notes) or None), entries

    def state_suppress(self, conn: Connection, sensor_id: int, on: bool, why: str, ts: int, now: int) -> list[Change]:
        """A sensor's suppress_when condition began or stopped holding: suppress or release its alarms
        (only those suppressed for that reason; an operator's suppression stays)."""
        if on:
            self.hygiene.state_suppressed[sensor_id] = why
        else:
            self.hygiene.state_suppressed.pop(sensor_id, None)
        changed, entries = [], []
        for (sid, _), p in self.points.items():
            if sid != sensor_id:
                continue
            if on and not p.suppressed:
                p.suppressed, p.suppression, p.suppressed_until = True, "state", None
                event, comment = "suppressed", f"state-based: {why}"
            elif not on and p.suppressed and p.suppression == "state":
                p.suppressed, p.suppression = False, None
                event, comment = "unsuppressed", f"state-based suppression ended: {why} no longer holds"
            else:
                continue
            p.changed_at = now
            changed.append(p)
            entries.append(self._entry(p, event, ts, now, SYSTEM, comment))
        self._write(conn, changed, entries)
        return [Change(p, e["event"]) for p, e in zip(changed, entries, strict=True)]

    def hygiene_due(self, now: int) -> bool:
        """Whether hygiene_tick has anything to do (checked every tick without a transaction)."""
        if any(w.flood is not None for w in self.hygiene.areas.values()):
            return True
        return any((p.suppression == "chatter" and p.suppressed_until is not None and p.suppressed_until <= now)
                   or (p.chattering and p.suppression != "chatter" and self.hygiene.calm(p.id, now))
                   for p in self.by_id.values())

    def hygiene_tick(self, conn: Connection, now: int) -> list[Change]:
        """Chatter suppressions that expired, alarms that stopped chattering, floods that ended."""
        changed, entries = [], []
        for p in self.by_id.values():
            if p.suppression == "chatter" and p.suppressed_until is not None and p.suppressed_until <= now:
                p.suppressed, p.suppression, p.suppressed_until = False, None, None
                entries.append(self._entry(p, "unsuppressed", now, now, SYSTEM, "chatter suppression expired"))
            elif p.chattering and p.suppression != "chatter" and self.hygiene.calm(p.id, now):
                p.chattering = False
                entries.append(self._entry(p, "chatter_ended", now, now, SYSTEM, None))
            else:
                continue
            p.changed_at = now
            changed.append(p)
        self._write(conn, changed, entries)
        ongoing = [w.flood for w in self.hygiene.areas.values() if w.flood is not None]
        ended = self.hygiene.ending_floods(now)
        rows = [{"_id": f.id, "ended_at": now if f in ended else None, "alarms": f.alarms, "peak": f.peak}
                for f in ongoing]
        if rows:  # one statement for every flood, however many raises they counted
            conn.execute(update(_F).where(_F.c.id == bindparam("_id")), rows)
        return [Change(p, e["event"]) for p, e in zip(changed, entries, strict=True)]

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
            p.suppression = "operator" if p.suppressed else None
            p.suppressed_until = None
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
