"""The incident desk's shared writes (a part of IncidentDesk, a mixin): opening an incident from
a plan, linking alarms, timeline events, notifications, and publishing each change."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain import Clock
from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso
from hazwatch.domain.events import INCIDENT_CHANGED, IncidentChanged
from hazwatch.domain.limits import Priority
from hazwatch.incidents import plans as P
from hazwatch.incidents.catalog import DisposalCatalog
from hazwatch.incidents.interlock import InterlockWriter
from hazwatch.incidents.notify import Notifier, Recipients
from hazwatch.incidents.reading import SYSTEM
from hazwatch.incidents.tables import _C, _E, _I, _IA, _L, _TASK

log = logging.getLogger(__name__)
# records a command in the caller's audit log, in the command's transaction: (conn, action, what)
Audit = Callable[[Connection, str, dict], None]


@dataclass(frozen=True)
class ClockPolicy:
    """Accident-report deadlines (SAFETY.md §6): the unit head reports to the county within an hour,
    each level passes it up within two; a warning goes out `warn_min` before each deadline."""

    levels: tuple[str, ...] = ("county", "city", "province", "national")
    first_min: float = 60.0
    next_min: float = 120.0
    warn_min: float = 15.0


class IncidentWriting:
    """What every part of the desk writes with: an incident, its links, events, notifications and
    parts, and the change published after it. The desk provides the attributes below."""

    engine: Engine
    clock: Clock
    index: Callable[[], SensorIndex]
    notifier: Notifier
    recipients: Recipients
    writer: InterlockWriter | None
    bus: Any
    clocks: ClockPolicy

    @property
    def catalog(self) -> DisposalCatalog:
        raise NotImplementedError

    def call(self, fn: Callable[[], Any]) -> Future:
        raise NotImplementedError

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



    def _publish(self, incident_id: int, event: str) -> None:
        if self.bus is not None and self.bus.has_subscribers(INCIDENT_CHANGED):
            with self.engine.connect() as conn:
                row = self._get(conn, incident_id)
            self.bus.publish(INCIDENT_CHANGED, IncidentChanged(self._public(row), event))
