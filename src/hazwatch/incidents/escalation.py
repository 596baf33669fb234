"""Escalation and reporting clocks (a part of IncidentDesk, a mixin): incidents and tasks nobody
acknowledged go up a tier, and each accident-report deadline warns before it falls due."""

from __future__ import annotations

from sqlalchemy import select, update

from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso
from hazwatch.domain.limits import Priority
from hazwatch.incidents.reading import OPEN_STATES, SYSTEM
from hazwatch.incidents.tables import _C, _I, _TASK
from hazwatch.incidents.writing import IncidentWriting


class IncidentEscalation(IncidentWriting):
    """Silence climbs the ladder, and the reporting clocks run: both deadline columns, compared with
    the clock on each tick."""

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
