"""Commands (a part of IncidentDesk, a mixin): open by hand, move through the states, acknowledge,
comment, work tasks, report upward, confirm and write interlocks."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso
from hazwatch.domain.errors import Conflict, Invalid, NotFound
from hazwatch.incidents.interlock import readback_matches
from hazwatch.incidents.reading import OPEN_STATES, SYSTEM
from hazwatch.incidents.tables import _C, _I, _L, _TASK
from hazwatch.incidents.writing import Audit, IncidentWriting

log = logging.getLogger(__name__)


# reported → assessing → responding → contained → closed; contained may fall back to responding, and
# an assessment may find nothing to respond to; any open incident may be cancelled (a false alarm).
NEXT: dict[str, tuple[str, ...]] = {
    "reported": ("assessing", "cancelled"),
    "assessing": ("responding", "contained", "cancelled"),
    "responding": ("contained", "cancelled"),
    "contained": ("closed", "responding", "cancelled"),
}


class IncidentCommands(IncidentWriting):
    """What people do to an incident, each run on the desk's worker and audited in its transaction."""

    # -- commands (run on the worker) -------------------------------------------------------------------------
    def _get(self, conn: Connection, incident_id: int):
        r = conn.execute(select(_I).where(_I.c.id == incident_id)).mappings().first()
        if r is None:
            raise NotFound(f"incident {incident_id} not found")
        return r

    def _open_part(self, conn: Connection, table, part_id: int, incident_id: int, what: str, ended: str = ""):
        """A task or interlock of an incident that is still open: NotFound when the incident has no such
        part, Conflict once the incident has ended."""
        r = self._get(conn, incident_id)
        part = conn.execute(select(table).where(table.c.id == part_id, table.c.incident_id == incident_id)
                            ).mappings().first()
        if part is None:
            raise NotFound(f"{what} {part_id} of incident {incident_id} not found")
        if r["state"] not in OPEN_STATES:
            raise Conflict(f"incident {incident_id} has ended ({r['state']}){ended}")
        return part

    def open_by_hand(self, org_id: int, title: str, hazard_type: str, priority: int, location: str | None,
                     actor: str, audit: Audit | None = None) -> Future:
        def run() -> int:
            cat = self.catalog
            hs, devs = None, frozenset[str]()
            if location is not None:
                found = cat.location_in(location, org_id)
                if found is None:  # one answer for a foreign code and an unknown one
                    raise Invalid(f"location {location!r} is neither a hazard source nor a device")
                hs, devs = found
            now = self.clock.now_us()
            with self.engine.begin() as conn:
                incident_id = self._open(conn, org_id, hs, location, devs, hazard_type, title, priority, None,
                                         actor, now)
                if audit is not None:
                    audit(conn, "incident.open", {"incident": incident_id, "title": title, "hazard_type": hazard_type,
                                                  "location": location})
            self._publish(incident_id, "opened")
            return incident_id

        return self.call(run)

    def transition(self, incident_id: int, to: str, actor: str, comment: str | None,
                   audit: Audit | None = None) -> Future:
        def run() -> None:
            now = self.clock.now_us()
            with self.engine.begin() as conn:
                r = self._get(conn, incident_id)
                if to not in NEXT.get(r["state"], ()):
                    allowed = ", ".join(NEXT.get(r["state"], ())) or "nothing (it has ended)"
                    raise Conflict(f"incident {incident_id} is {r['state']}: it can go to {allowed}, not {to}")
                values: dict[str, Any] = {"state": to}
                if r["acknowledged_at"] is None:
                    values |= {"acknowledged_at": now, "acknowledged_by": actor}
                if to in ("closed", "cancelled"):
                    values |= {"ended_at": now, "escalate_at": None}
                    conn.execute(update(_TASK).where(_TASK.c.incident_id == incident_id).values(escalate_at=None))
                    conn.execute(update(_C).where(_C.c.incident_id == incident_id, _C.c.reported_at.is_(None),
                                                  _C.c.stopped_at.is_(None)).values(stopped_at=now))
                    conn.execute(update(_L).where(_L.c.incident_id == incident_id,
                                                  _L.c.state.in_(("requested", "confirmed"))).values(state="cancelled"))
                else:
                    values["escalate_at"] = None
                conn.execute(update(_I).where(_I.c.id == incident_id).values(**values))
                self._event(conn, incident_id, now, actor, "state",
                            f"{r['state']} → {to}" + (f": {comment}" if comment else ""))
                if audit is not None:
                    audit(conn, "incident.transition", {"incident": incident_id, "from": r["state"], "to": to,
                                                        "comment": comment})
            if to == "closed" and self.reports_dir is not None:
                self._close_out(incident_id)
            self._publish(incident_id, to)

        return self.call(run)

    def acknowledge(self, incident_id: int, actor: str, comment: str | None, audit: Audit | None = None) -> Future:
        def run() -> None:
            now = self.clock.now_us()
            with self.engine.begin() as conn:
                r = self._get(conn, incident_id)
                if r["state"] not in OPEN_STATES:
                    raise Conflict(f"incident {incident_id} has ended ({r['state']})")
                if r["acknowledged_at"] is not None:
                    raise Conflict(f"incident {incident_id} was acknowledged by {r['acknowledged_by']} at "
                                   f"{iso(r['acknowledged_at'])}")
                conn.execute(update(_I).where(_I.c.id == incident_id).values(
                    acknowledged_at=now, acknowledged_by=actor, escalate_at=None))
                tier = r["tiers"][r["tier"]]["name"]
                self._event(conn, incident_id, now, actor, "acknowledged",
                            f"acknowledged at tier {tier}" + (f": {comment}" if comment else ""))
                if audit is not None:
                    audit(conn, "incident.acknowledge", {"incident": incident_id, "tier": tier, "comment": comment})
            self._publish(incident_id, "acknowledged")

        return self.call(run)

    def comment(self, incident_id: int, actor: str, text: str, audit: Audit | None = None) -> Future:
        def run() -> None:
            now = self.clock.now_us()
            with self.engine.begin() as conn:
                self._get(conn, incident_id)
                self._event(conn, incident_id, now, actor, "comment", text)
                if audit is not None:
                    audit(conn, "incident.comment", {"incident": incident_id, "text": text})

        return self.call(run)

    def task(self, incident_id: int, task_id: int, action: str, actor: str, comment: str | None,
             audit: Audit | None = None) -> Future:
        def run() -> None:
            now = self.clock.now_us()
            with self.engine.begin() as conn:
                t = self._open_part(conn, _TASK, task_id, incident_id, "task")
                if t["state"] in ("done", "cancelled") or (action == "acknowledge" and t["state"] != "open"):
                    raise Conflict(f"task {task_id} is {t['state']}")
                if action == "acknowledge":
                    values = {"state": "acknowledged", "acknowledged_by": actor, "escalate_at": None}
                else:
                    values = {"state": "done", "done_at": now, "done_by": actor, "escalate_at": None}
                conn.execute(update(_TASK).where(_TASK.c.id == task_id).values(**values))
                self._event(conn, incident_id, now, actor, f"task_{values['state']}",
                            f"task #{task_id} {values['state']}: {t['title']}" + (f": {comment}" if comment else ""))
                if audit is not None:
                    audit(conn, f"incident.task_{action}", {"incident": incident_id, "task": task_id,
                                                            "comment": comment})

        return self.call(run)

    def report_made(self, incident_id: int, level: str, actor: str, audit: Audit | None = None) -> Future:
        """The report to `level` was made: its clock stops and the next level's starts."""

        def run() -> None:
            now = self.clock.now_us()
            with self.engine.begin() as conn:
                self._get(conn, incident_id)
                c = conn.execute(select(_C).where(_C.c.incident_id == incident_id, _C.c.level == level)
                                 ).mappings().first()
                if c is None or c["stopped_at"] is not None:
                    raise Conflict(f"no running reporting clock for level {level!r} on incident {incident_id}")
                if c["reported_at"] is not None:
                    raise Conflict(f"the {level} report was recorded at {iso(c['reported_at'])}")
                conn.execute(update(_C).where(_C.c.id == c["id"]).values(reported_at=now, reported_by=actor))
                late = " (late)" if now > c["due_at"] else ""
                self._event(conn, incident_id, now, actor, "reported", f"reported to the {level} regulator{late}")
                if audit is not None:
                    audit(conn, "incident.report", {"incident": incident_id, "level": level})
                i = self.clocks.levels.index(level) if level in self.clocks.levels else len(self.clocks.levels)
                if i + 1 < len(self.clocks.levels):
                    nxt, due = self.clocks.levels[i + 1], now + int(self.clocks.next_min * 60 * US)
                    conn.execute(insert(_C).values(incident_id=incident_id, level=nxt, started_at=now, due_at=due))
                    self._event(conn, incident_id, now, SYSTEM, "clock_started",
                                f"the {level} regulator passes it to the {nxt} regulator, due {iso(due)}")

        return self.call(run)

    def confirm_interlock(self, incident_id: int, interlock_id: int, actor: str, audit: Audit | None = None) -> Future:
        """Confirm a requested write; the last confirmation it needs performs it, reads it back and
        records both. There is no other way to write. A write that failed or read back wrong (or was
        cut off by a restart before it ran) takes a fresh round of confirmations to try again; one
        that was written and read back is never written again."""

        def run() -> None:
            now = self.clock.now_us()
            with self.engine.begin() as conn:
                il = self._open_part(conn, _L, interlock_id, incident_id, "interlock", ": nothing is written")
                if il["state"] not in ("requested", "confirmed", "failed", "mismatch"):
                    raise Conflict(f"interlock {interlock_id} is {il['state']}")
                # a fresh round: first asked, tried before without success, or confirmed by its one person
                # but never written (the server stopped between the two)
                first = il["state"] != "confirmed" or not il["second_person"]
                if not first and il["confirmed_by"] == actor:
                    raise Conflict(f"interlock {interlock_id} needs a second person: {actor} confirmed it already")
                if first:
                    conn.execute(update(_L).where(_L.c.id == interlock_id).values(
                        state="confirmed", confirmed_by=actor, confirmed_at=now, second_by=None, second_at=None,
                        error=None))
                else:
                    conn.execute(update(_L).where(_L.c.id == interlock_id).values(second_by=actor, second_at=now))
                self._event(conn, incident_id, now, actor, "interlock_confirmed",
                            f"interlock #{interlock_id}: {'confirmed' if first else 'second confirmation'} "
                            f"(write {il['value']:g} to {il['target']})")
                if audit is not None:
                    audit(conn, "interlock.confirm", {"incident": incident_id, "interlock": interlock_id,
                                                      "target": il["target"], "value": il["value"],
                                                      "confirmation": 1 if first else 2})
            if first and il["second_person"]:
                return  # waits for the second person
            self._write(incident_id, interlock_id, il["target"], il["value"])

        return self.call(run)

    def _write(self, incident_id: int, interlock_id: int, target: str, value: float) -> None:
        readback, error = None, None
        org_id = self.org_of(incident_id)
        try:
            if self.writer is None:
                raise RuntimeError("no interlock writer is configured on this server")
            if org_id is None or not self.catalog.may_write(target, org_id):
                # checked again at the moment of writing: the endpoint may have been withdrawn since
                raise PermissionError("the target is not at a field endpoint registered for the incident's "
                                      "enterprise; nothing was sent")
            readback = asyncio.run(asyncio.wait_for(self.writer.write(target, value), 15))
        except Exception as e:
            error = f"{type(e).__name__}: {e}"[:500]
        now = self.clock.now_us()
        ok = readback_matches(value, readback)
        state = "failed" if error else ("written" if ok or readback is None else "mismatch")
        with self.engine.begin() as conn:
            conn.execute(update(_L).where(_L.c.id == interlock_id).values(
                state=state, written_at=None if error else now, readback=readback, error=error))
            if error:
                text = f"interlock #{interlock_id}: write to {target} failed: {error}"
            elif readback is None:
                text = f"interlock #{interlock_id}: wrote {value:g} to {target}; the target cannot be read back"
            else:
                text = (f"interlock #{interlock_id}: wrote {value:g} to {target}, read back {readback:g}"
                        + ("" if ok else ": MISMATCH"))
            self._event(conn, incident_id, now, SYSTEM, f"interlock_{state}", text)
