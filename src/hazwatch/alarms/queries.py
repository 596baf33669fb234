"""Read side of alarms for the API: straight from the database, so any API process can answer."""

from __future__ import annotations

from sqlalchemy import Engine, select

from hazwatch.alarms import states
from hazwatch.alarms.manager import AlarmPoint
from hazwatch.alarms.models import Alarm, AlarmFlood, AlarmJournal
from hazwatch.domain.clock import iso

_A = Alarm.__table__
_J = AlarmJournal.__table__
_F = AlarmFlood.__table__


class AlarmQueries:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(self, filter_: str) -> list[AlarmPoint]:
        with self.engine.connect() as conn:
            points = [AlarmPoint(**dict(r)) for r in conn.execute(select(_A)).mappings()]
        out = [p for p in points if states.matches(filter_, p.state)]
        # The console's order: highest priority first, then newest.
        out.sort(key=lambda p: (-p.priority, -(p.raised_at or 0), p.id))
        return out

    def floods(self) -> list[dict]:
        """Every flood, the ongoing first, then newest; `org_id` is the area."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_F)).mappings().all()
        out = [{"id": r["id"], "org_id": r["org_id"], "active": r["ended_at"] is None,
                "started_at": iso(r["started_at"]), "ended_at": iso(r["ended_at"]), "alarms": r["alarms"],
                "peak": r["peak"], "_start": r["started_at"]} for r in rows]
        out.sort(key=lambda f: (not f["active"], -f["_start"]))
        for f in out:
            del f["_start"]
        return out

    def get(self, alarm_id: int) -> AlarmPoint | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(_A).where(_A.c.id == alarm_id)).mappings().first()
        return AlarmPoint(**dict(r)) if r else None

    def events_between(self, alarm_ids: list[int], start: int, end: int,
                       events: tuple[str, ...] = ("raised", "cleared", "acknowledged")) -> list[dict]:
        """Journal rows {id, alarm_id, ts, event} of these alarms with start <= ts < end."""
        if not alarm_ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(_J.c.id, _J.c.alarm_id, _J.c.ts, _J.c.event).where(
                _J.c.alarm_id.in_(alarm_ids), _J.c.ts >= start, _J.c.ts < end, _J.c.event.in_(events))).all()
        return [{"id": r.id, "alarm_id": r.alarm_id, "ts": r.ts, "event": r.event} for r in rows]

    def journal(self, alarm_id: int) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(_J).where(_J.c.alarm_id == alarm_id).order_by(_J.c.id)).mappings().all()
        return [{"id": r["id"], "ts": iso(r["ts"]), "recorded_at": iso(r["recorded_at"]), "event": r["event"],
                 "actor": r["actor"], "comment": r["comment"], "value": r["value"], "state": r["state"]}
                for r in rows]
