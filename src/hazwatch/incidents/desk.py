"""The incident desk: alarms become incidents, plans become tasks, silence climbs the ladder.

One worker thread owns every incident write (like the pipeline owns alarm state), so commands and
timers never race. Every timer is a deadline column in the database (`escalate_at` of incidents
and tasks, `due_at` of reporting clocks) that the tick compares with the clock, so a restart loses
none of them: the first tick after it does whatever fell due while the server was down.

Triggers are checked on each tick against the active alarms in the database, so an alarm that
must stay active for a while (a detector alarm held for N minutes) needs no timer of its own. Any
alarm activation on a hazard source with an open incident joins that incident; a triggering alarm
with no hazard source (a compound rule's) joins its org's newest open incident; only a triggering
alarm with nothing to join opens a new one."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from hazwatch.alarms.models import Alarm
from hazwatch.catalog.index import SensorIndex
from hazwatch.catalog.schema import TriggerDoc
from hazwatch.domain import Clock
from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso
from hazwatch.domain.errors import Conflict, Invalid, NotFound
from hazwatch.domain.events import INCIDENT_CHANGED, IncidentChanged
from hazwatch.domain.limits import Priority
from hazwatch.incidents import plans as P
from hazwatch.incidents.catalog import DisposalCatalog
from hazwatch.incidents.interlock import InterlockWriter, readback_matches
from hazwatch.incidents.models import (
    Incident,
    IncidentAlarm,
    IncidentEvent,
    IncidentTask,
    Interlock,
    ReportClock,
)
from hazwatch.incidents.notify import Notifier, Recipients
from hazwatch.incidents.placing import Located, locate, matches
from hazwatch.incidents.reading import OPEN_STATES, SYSTEM, IncidentReading

log = logging.getLogger(__name__)
# records a command in the caller's audit log, in the command's transaction: (conn, action, what)
Audit = Callable[[Connection, str, dict], None]
_A = Alarm.__table__
_I = Incident.__table__
_IA = IncidentAlarm.__table__
_E = IncidentEvent.__table__
_TASK = IncidentTask.__table__
_C = ReportClock.__table__
_L = Interlock.__table__

# reported → assessing → responding → contained → closed; contained may fall back to responding, and
# an assessment may find nothing to respond to; any open incident may be cancelled (a false alarm).
NEXT: dict[str, tuple[str, ...]] = {
    "reported": ("assessing", "cancelled"),
    "assessing": ("responding", "contained", "cancelled"),
    "responding": ("contained", "cancelled"),
    "contained": ("closed", "responding", "cancelled"),
}


@dataclass(frozen=True)
class ClockPolicy:
    """Accident-report deadlines (SAFETY.md §6): the unit head reports to the county within an hour,
    each level passes it up within two; a warning goes out `warn_min` before each deadline."""

    levels: tuple[str, ...] = ("county", "city", "province", "national")
    first_min: float = 60.0
    next_min: float = 120.0
    warn_min: float = 15.0


class IncidentDesk(IncidentReading):
    def __init__(self, engine: Engine, clock: Clock, index: Callable[[], SensorIndex], notifier: Notifier,
                 recipients: Recipients, writer: InterlockWriter | None = None, reports_dir: Path | None = None,
                 series: Callable[[int, int, int], tuple[list[int], list[float]]] | None = None,
                 clocks: ClockPolicy | None = None, bus=None) -> None:
        self.engine, self.clock, self.index, self.notifier = engine, clock, index, notifier
        self.bus = bus  # incident changes are published here (the live stream, the demo's console)
        self.recipients, self.writer, self.reports_dir, self.series = recipients, writer, reports_dir, series
        self.clocks = clocks or ClockPolicy()
        self._catalog: DisposalCatalog | None = None
        self.also_tick: list[Callable[[], Any]] = []  # other deadline checks that ride on this tick
        self._exec = ThreadPoolExecutor(1, thread_name_prefix="hazwatch-incidents")
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    # -- the worker ---------------------------------------------------------------------------------------
    def call(self, fn: Callable[[], Any]) -> Future:
        """Run fn on the desk's worker, after everything queued before it."""
        return self._exec.submit(fn)

    def start(self, interval_s: float = 1.0) -> None:
        def run() -> None:
            while not self._stop.wait(interval_s):
                try:
                    done = self.call(self.tick)
                except RuntimeError:  # the interpreter is shutting down the worker: nothing more to do
                    return
                try:
                    done.result()
                except Exception:
                    log.exception("incident tick failed")

        self._stop.clear()
        self._timer = threading.Thread(target=run, name="hazwatch-incident-timer", daemon=True)
        self._timer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=30)
            self._timer = None

    @property
    def catalog(self) -> DisposalCatalog:
        rev = self.index().revision
        if self._catalog is None or self._catalog.revision != rev:
            self._catalog = DisposalCatalog.load(self.engine)
        return self._catalog

    # -- timers ---------------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Open or join incidents for matching alarms; escalate what nobody acknowledged; run the
        reporting clocks. Safe to call at any time, any number of times."""
        now = self.clock.now_us()
        with self.notifier.together():  # what one tick says to a person goes out as one message
            self._scan(now)
            self._escalate(now)
            self._run_clocks(now)
        for fn in self.also_tick:
            fn()

    def _scan(self, now: int) -> None:
        cat = self.catalog
        if not cat.triggers:
            return
        with self.engine.connect() as conn:
            active = conn.execute(select(_A).where(_A.c.active.is_(True), _A.c.raised_at.is_not(None))
                                  .order_by(_A.c.raised_at, _A.c.id)).mappings().all()
            if not active:
                return
            linked = {(r[0], r[1]) for r in conn.execute(select(_IA.c.alarm_id, _IA.c.raised_at).where(
                _IA.c.alarm_id.in_([a["id"] for a in active])))}
            open_rows = conn.execute(select(_I).where(_I.c.state.in_(OPEN_STATES))).mappings().all()
        # keyed by (place, org): an alarm joins only an incident of its own org or of an org above it,
        # never one that another tenant opened at the same place
        by_hs: dict[tuple[int, int], int] = {}  # (hazard source, org) -> its open incident
        by_org: dict[int, int] = {}  # org -> its newest open incident
        unplaced: dict[int, int] = {}  # org -> its newest open incident with no hazard source yet
        for r in sorted(open_rows, key=lambda r: r["id"]):
            if r["hazard_source_id"] is not None:
                by_hs.setdefault((r["hazard_source_id"], r["org_id"]), r["id"])
            else:
                unplaced[r["org_id"]] = r["id"]
            by_org[r["org_id"]] = r["id"]
        for a in active:
            if (a["id"], a["raised_at"]) in linked:
                continue
            where = locate(self.index(), a, cat)
            if where is None:
                continue
            trigger = next((t for org, t in cat.triggers if matches(t, org, a, where, cat, now)), None)
            # an alarm of a hazard source joins that source's incident, whatever alarm it is; one with no
            # hazard source (a compound rule's) joins its org's newest incident if it would open one
            hs = where.hazard_source_id
            incident_id = (next((by_hs[hs, o] for o in cat.up(where.org_id) if (hs, o) in by_hs), None)
                           if hs is not None else by_org.get(where.org_id))
            if incident_id is None and hs is not None and trigger is not None and where.org_id in unplaced:
                # a compound rule opened its org's incident first; the first hazard source that triggers
                # in that org is where it is happening
                incident_id = by_hs[hs, where.org_id] = unplaced.pop(where.org_id)
                with self.engine.begin() as conn:
                    conn.execute(update(_I).where(_I.c.id == incident_id).values(hazard_source_id=hs,
                                                                                 location=where.location))
                    self._event(conn, incident_id, now, SYSTEM, "located", f"located at {where.location}")
            if incident_id is not None and (trigger is not None or hs is not None):
                with self.engine.begin() as conn:
                    self._link(conn, incident_id, a, now)
                    self._event(conn, incident_id, now, SYSTEM, "alarm_joined",
                                f"{where.label} ({Priority(a['priority']).label}) joined the incident")
            elif trigger is not None:
                incident_id = self._open_from_alarm(a, where, trigger, now)
                self._publish(incident_id, "opened")
                by_org[where.org_id] = incident_id
                if hs is not None:
                    by_hs[hs, where.org_id] = incident_id
                else:
                    unplaced[where.org_id] = incident_id

    # -- opening ------------------------------------------------------------------------------------------
    def _open_from_alarm(self, a, where: Located, t: TriggerDoc, now: int) -> int:
        hazard_type = t.hazard_type or P.KIND_HAZARD.get(where.kind or "", "other")
        title = f"{t.name}: {where.label}"
        with self.engine.begin() as conn:
            incident_id = self._open(conn, where.org_id, where.hazard_source_id, where.location, where.devices,
                                     hazard_type, title, a["priority"], t.code, f"trigger {t.code}", now)
            self._link(conn, incident_id, a, now)
            self._event(conn, incident_id, now, SYSTEM, "alarm_joined",
                        f"{where.label} ({Priority(a['priority']).label}) opened the incident")
        return incident_id

    def _open(self, conn: Connection, org_id: int, hazard_source_id: int | None, location: str | None,
              devices: frozenset[str], hazard_type: str, title: str, priority: int, trigger: str | None, actor: str,
              now: int) -> int:
        cat = self.catalog
        locations = frozenset({location} if location else ()) | devices
        chosen = P.select(cat.plans, hazard_type, P.Where(cat.above(org_id), locations))
        tiers = P.ladder(chosen)
        incident_id = conn.execute(insert(_I).values(
            org_id=org_id, hazard_source_id=hazard_source_id, location=location, hazard_type=hazard_type,
            title=title[:300], state="reported", priority=priority, trigger=trigger,
            plans=[p.code for p in chosen], tiers=[t.model_dump() for t in tiers], tier=0,
            escalate_at=now + int(tiers[0].minutes * 60 * US), opened_at=now, opened_by=actor,
        ).returning(_I.c.id)).scalar_one()
        self._event(conn, incident_id, now, actor, "opened",
                    f"{title} (hazard type {hazard_type}, priority {Priority(priority).label})")
        for plan in chosen:
            self._event(conn, incident_id, now, SYSTEM, "plan", f"{plan.layer} plan {plan.code}: {plan.name}")
        for plan_code, step in P.steps(chosen):
            due = now + int(step.due_min * 60 * US)
            task_id = conn.execute(insert(_TASK).values(
                incident_id=incident_id, plan=plan_code, title=step.title, role=step.role, state="open",
                due_at=due, tier=0, escalate_at=due).returning(_TASK.c.id)).scalar_one()
            self._event(conn, incident_id, now, SYSTEM, "task", f"task #{task_id} for {step.role}: {step.title} "
                        f"(due {iso(due)})")
            if step.interlock is not None:
                il = step.interlock
                lid = conn.execute(insert(_L).values(
                    incident_id=incident_id, task_id=task_id, target=il.target, value=il.value,
                    second_person=il.second_person, state="requested", requested_at=now).returning(_L.c.id)
                ).scalar_one()
                self._event(conn, incident_id, now, SYSTEM, "interlock_requested",
                            f"interlock #{lid}: write {il.value:g} to {il.target} (task #{task_id}); waits for "
                            f"{'two confirmations' if il.second_person else 'confirmation'}")
        due = now + int(self.clocks.first_min * 60 * US)
        conn.execute(insert(_C).values(incident_id=incident_id, level=self.clocks.levels[0], started_at=now,
                                       due_at=due))
        self._event(conn, incident_id, now, SYSTEM, "clock_started",
                    f"report to the {self.clocks.levels[0]} regulator due {iso(due)}")
        self._notify(conn, incident_id, org_id, [0], f"Incident #{incident_id} opened: {title}",
                     f"{title}. Hazard type {hazard_type}. Acknowledge within {tiers[0].minutes:g} min "
                     f"or it goes to the {tiers[1].name if len(tiers) > 1 else tiers[0].name}.", priority, tiers, now)
        return incident_id

    def _link(self, conn: Connection, incident_id: int, a, now: int) -> None:
        conn.execute(insert(_IA).values(incident_id=incident_id, alarm_id=a["id"], raised_at=a["raised_at"],
                                        joined_at=now))

    def _event(self, conn: Connection, incident_id: int, ts: int, actor: str, kind: str, detail: str) -> None:
        conn.execute(insert(_E).values(incident_id=incident_id, ts=ts, actor=actor, kind=kind, detail=detail[:2000]))

    def _notify(self, conn: Connection, incident_id: int, org_id: int, tiers_idx: list[int], subject: str, body: str,
                priority: int, tiers: list, now: int) -> None:
        for i in tiers_idx:
            tier = tiers[i]
            role, name = (tier.role, tier.name) if hasattr(tier, "role") else (tier["role"], tier["name"])
            people = self.recipients(role, org_id)
            n = self.notifier.enqueue(conn, people, subject, body, priority, incident_id, now)
            who = ", ".join(p[1] for p in people) or "nobody (no user holds the role here)"
            self._event(conn, incident_id, now, SYSTEM, "notified", f"{name} ({role}): {who}; {n} messages queued")

    # -- escalation ---------------------------------------------------------------------------------------
    def _escalate(self, now: int) -> None:
        with self.engine.connect() as conn:
            due_i = conn.execute(select(_I).where(_I.c.escalate_at <= now, _I.c.state.in_(OPEN_STATES))
                                 ).mappings().all()
            due_t = conn.execute(select(_TASK, _I.c.org_id, _I.c.tiers, _I.c.priority)
                                 .join(_I, _I.c.id == _TASK.c.incident_id)
                                 .where(_TASK.c.escalate_at <= now, _TASK.c.state == "open",
                                        _I.c.state.in_(OPEN_STATES))
                                 ).mappings().all()
        for r in due_i:
            tiers, tier = r["tiers"], r["tier"]
            top = tier + 1 >= len(tiers)
            new = tier if top else tier + 1
            nxt = now + int(tiers[new]["minutes"] * 60 * US)
            with self.engine.begin() as conn:
                conn.execute(update(_I).where(_I.c.id == r["id"]).values(tier=new, escalate_at=nxt))
                what = (f"still unacknowledged at the top tier ({tiers[new]['name']}): notified again" if top else
                        f"unacknowledged for {tiers[tier]['minutes']:g} min: escalated from {tiers[tier]['name']} "
                        f"to {tiers[new]['name']}")
                self._event(conn, r["id"], now, SYSTEM, "escalated", what)
                self._notify(conn, r["id"], r["org_id"], sorted({tier, new}),
                             f"Incident #{r['id']} unacknowledged, escalated to {tiers[new]['name']}: {r['title']}",
                             f"{r['title']}. Nobody has acknowledged it; it is now with the {tiers[new]['name']}.",
                             r["priority"], tiers, now)
            self._publish(r["id"], "escalated")
        for t in due_t:
            tiers, tier = t["tiers"], t["tier"]
            new = min(tier + 1, len(tiers) - 1)
            with self.engine.begin() as conn:
                conn.execute(update(_TASK).where(_TASK.c.id == t["id"]).values(
                    tier=new, escalate_at=now + int(tiers[new]["minutes"] * 60 * US)))
                self._event(conn, t["incident_id"], now, SYSTEM, "task_escalated",
                            f"task #{t['id']} overdue and unacknowledged: {t['title']}; "
                            f"called the {tiers[new]['name']}")
                self._notify(conn, t["incident_id"], t["org_id"], sorted({tier, new}),
                             f"Incident #{t['incident_id']}: task overdue: {t['title']}",
                             f"Task #{t['id']} ({t['role']}) is overdue and nobody has acknowledged it.",
                             t["priority"], tiers, now)

    def _run_clocks(self, now: int) -> None:
        warn = int(self.clocks.warn_min * 60 * US)
        with self.engine.connect() as conn:
            rows = conn.execute(select(_C, _I.c.org_id, _I.c.tiers, _I.c.title).join(_I, _I.c.id == _C.c.incident_id)
                                .where(_C.c.reported_at.is_(None), _C.c.stopped_at.is_(None),
                                       _C.c.due_at - warn <= now,
                                       _C.c.warned_at.is_(None) | (_C.c.overdue_at.is_(None) & (_C.c.due_at <= now)))
                                ).mappings().all()
        for c in rows:
            overdue = c["due_at"] <= now
            with self.engine.begin() as conn:
                if overdue:
                    conn.execute(update(_C).where(_C.c.id == c["id"]).values(overdue_at=now,
                                                                             warned_at=c["warned_at"] or now))
                    kind = "clock_overdue"
                    text = f"report to the {c['level']} regulator is overdue (was due {iso(c['due_at'])})"
                else:
                    conn.execute(update(_C).where(_C.c.id == c["id"]).values(warned_at=now))
                    kind, text = "clock_warning", f"report to the {c['level']} regulator due {iso(c['due_at'])}"
                self._event(conn, c["incident_id"], now, SYSTEM, kind, text)
                self._notify(conn, c["incident_id"], c["org_id"],
                             [i for i, t in enumerate(c["tiers"]) if t["role"] == "enterprise_admin"] or [0],
                             f"Incident #{c['incident_id']}: {text}", f"{c['title']}: {text}.",
                             int(Priority.URGENT), c["tiers"], now)

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

    def _publish(self, incident_id: int, event: str) -> None:
        if self.bus is not None and self.bus.has_subscribers(INCIDENT_CHANGED):
            with self.engine.connect() as conn:
                row = self._get(conn, incident_id)
            self.bus.publish(INCIDENT_CHANGED, IncidentChanged(self._public(row), event))
