"""What the incident desk answers without changing anything: lists, details, response times, and
the close-out report written when an incident closes. A part of IncidentDesk (a mixin), kept apart
so that the desk's module holds the writes and timers only."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select

from hazwatch import offload
from hazwatch.catalog.index import SensorIndex
from hazwatch.domain import Clock
from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso
from hazwatch.domain.errors import NotFound
from hazwatch.domain.limits import Priority
from hazwatch.incidents.catalog import DisposalCatalog
from hazwatch.incidents.notify import Notifier
from hazwatch.incidents.tables import _A, _C, _E, _I, _IA, _L, _TASK

log = logging.getLogger(__name__)
SYSTEM = "system"
OPEN_STATES = ("reported", "assessing", "responding", "contained")


class IncidentReading:
    """The reading half of IncidentDesk; the desk provides these."""

    engine: Engine
    clock: Clock
    index: Callable[[], SensorIndex]
    notifier: Notifier
    reports_dir: Path | None
    series: Callable | None
    clocks: object
    catalog: DisposalCatalog
    _get: Callable
    _event: Callable

    def list(self, org_ids: frozenset[int] | None, state: str | None = None) -> list[dict]:
        q = select(_I).order_by(_I.c.id.desc())
        if org_ids is not None:
            q = q.where(_I.c.org_id.in_(org_ids))
        if state == "open":
            q = q.where(_I.c.state.in_(OPEN_STATES))
        elif state is not None:
            q = q.where(_I.c.state == state)
        with self.engine.connect() as conn:
            rows = conn.execute(q.limit(1000)).mappings().all()
        return [self._public(r) for r in rows]

    def response_times(self, org_ids: frozenset[int] | None, start: int, end: int) -> list[dict]:
        """Incidents opened in [start, end): when each was opened, acknowledged, contained and closed."""
        q = select(_I).where(_I.c.opened_at >= start, _I.c.opened_at < end)
        if org_ids is not None:
            q = q.where(_I.c.org_id.in_(org_ids))
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
            contained = dict(conn.execute(select(_E.c.incident_id, func.min(_E.c.ts)).where(
                _E.c.incident_id.in_([r["id"] for r in rows]), _E.c.kind == "state",
                _E.c.detail.like("% → contained%")).group_by(_E.c.incident_id)).all()) if rows else {}
        return [{"id": r["id"], "opened_at": r["opened_at"], "acknowledged_at": r["acknowledged_at"],
                 "contained_at": contained.get(r["id"]),
                 "closed_at": r["ended_at"] if r["state"] == "closed" else None} for r in rows]

    def org_of(self, incident_id: int) -> int | None:
        with self.engine.connect() as conn:
            return conn.scalar(select(_I.c.org_id).where(_I.c.id == incident_id))

    def _public(self, r) -> dict:
        cat = self.catalog
        tiers = r["tiers"]
        return {
            "id": r["id"], "enterprise": cat.org_code(r["org_id"]), "title": r["title"], "state": r["state"],
            "hazard_type": r["hazard_type"], "location": r["location"], "priority": Priority(r["priority"]).label,
            "trigger": r["trigger"], "plans": r["plans"], "tiers": tiers,
            "tier": tiers[r["tier"]]["name"] if tiers else None, "escalate_at": iso(r["escalate_at"]),
            "opened_at": iso(r["opened_at"]), "opened_by": r["opened_by"],
            "acknowledged_at": iso(r["acknowledged_at"]), "acknowledged_by": r["acknowledged_by"],
            "ended_at": iso(r["ended_at"]),
        }

    def detail(self, incident_id: int, addresses: bool = True) -> dict:
        """The incident with its alarms, timeline, tasks, clocks, interlock writes and who was told;
        `addresses=False` leaves out a person's e-mail address (shown only to those who manage users)."""
        now = self.clock.now_us()
        with self.engine.connect() as conn:
            r = self._get(conn, incident_id)
            events = conn.execute(select(_E).where(_E.c.incident_id == incident_id).order_by(_E.c.id)).mappings().all()
            tasks = conn.execute(select(_TASK).where(_TASK.c.incident_id == incident_id)
                                 .order_by(_TASK.c.id)).mappings().all()
            clocks = conn.execute(select(_C).where(_C.c.incident_id == incident_id).order_by(_C.c.id)).mappings().all()
            locks = conn.execute(select(_L).where(_L.c.incident_id == incident_id).order_by(_L.c.id)).mappings().all()
            alarms = conn.execute(select(_IA, _A.c.sensor_id, _A.c.condition, _A.c.unit_id, _A.c.rule_id)
                                  .join(_A, _A.c.id == _IA.c.alarm_id).where(_IA.c.incident_id == incident_id)
                                  .order_by(_IA.c.id)).mappings().all()
        idx = self.index()
        tiers = r["tiers"]
        return self._public(r) | {
            "alarms": [{"alarm": a["alarm_id"], "condition": a["condition"],
                        "sensor": idx.info.get(a["sensor_id"], {}).get("tag") if a["sensor_id"] is not None else None,
                        "sensor_id": a["sensor_id"], "raised_at": iso(a["raised_at"]), "joined_at": iso(a["joined_at"])}
                       for a in alarms],
            "timeline": [{"ts": iso(e["ts"]), "actor": e["actor"], "kind": e["kind"], "detail": e["detail"]}
                         for e in events],
            "tasks": [{"id": t["id"], "plan": t["plan"], "title": t["title"], "role": t["role"], "state": t["state"],
                       "due_at": iso(t["due_at"]),
                       "overdue": t["state"] in ("open", "acknowledged") and t["due_at"] < now,
                       "tier": tiers[t["tier"]]["name"] if tiers else None, "acknowledged_by": t["acknowledged_by"],
                       "done_at": iso(t["done_at"]), "done_by": t["done_by"]} for t in tasks],
            "clocks": [{"level": c["level"], "started_at": iso(c["started_at"]), "due_at": iso(c["due_at"]),
                        "reported_at": iso(c["reported_at"]), "reported_by": c["reported_by"],
                        "status": _clock_status(c, now, int(self.clocks.warn_min * 60 * US)),
                        "remaining_s": None if c["reported_at"] or c["stopped_at"] else round((c["due_at"] - now) / US)}
                       for c in clocks],
            "interlocks": [{"id": x["id"], "task": x["task_id"], "target": x["target"], "value": x["value"],
                            "second_person": x["second_person"], "state": x["state"],
                            "requested_at": iso(x["requested_at"]), "confirmed_by": x["confirmed_by"],
                            "confirmed_at": iso(x["confirmed_at"]), "second_by": x["second_by"],
                            "written_at": iso(x["written_at"]), "readback": x["readback"], "error": x["error"]}
                           for x in locks],
            "notifications": [n if addresses or n.get("channel") != "email" else n | {"address": None}
                              for n in self.notifier.for_incident(incident_id)],
        }

    # -- close-out ----------------------------------------------------------------------------------------------
    def report_paths(self, incident_id: int) -> tuple[Path, Path]:
        assert self.reports_dir is not None
        return (self.reports_dir / f"incident-{incident_id}.html", self.reports_dir / f"incident-{incident_id}.pdf")

    def report_file(self, incident_id: int, kind: str) -> Path:
        html, pdf = self.report_paths(incident_id)
        path = html if kind == "html" else pdf
        if not path.exists():
            raise NotFound(f"incident {incident_id} has no close-out report yet (it is written when the incident "
                           "is closed)")
        return path

    def _close_out(self, incident_id: int) -> None:
        from hazwatch.incidents.report import write_report

        html, pdf = self.report_paths(incident_id)
        try:
            detail = self.detail(incident_id)
            offload.run(write_report, detail, self._trends(detail), html, pdf)  # off the server's interpreter
            kind, text = "report", f"close-out report written: {html.name}, {pdf.name}"
        except Exception as e:  # the incident is closed all the same; the timeline says what went wrong
            log.exception("close-out report of incident %d failed", incident_id)
            kind, text = "report_failed", f"close-out report not written: {type(e).__name__}: {e}"
        with self.engine.begin() as conn:
            self._event(conn, incident_id, self.clock.now_us(), SYSTEM, kind, text)

    def _trends(self, detail: dict) -> dict[str, tuple[list[int], list[float], dict]]:
        """The involved sensors' values from 30 minutes before the first alarm to the end."""
        if self.series is None:
            return {}
        idx = self.index()
        out = {}
        raised = [a for a in detail["alarms"] if a["sensor_id"] is not None]
        if not raised:
            return out
        start = min(_us(a["raised_at"]) for a in raised) - 30 * 60 * US
        end = self.clock.now_us()
        for a in raised:
            sid = a["sensor_id"]
            tag = idx.info.get(sid, {}).get("tag")
            if tag and tag not in out:
                ts, values = self.series(sid, start, end)
                out[tag] = (ts, values, idx.info[sid])
        return out


def _us(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * US)


def _clock_status(c, now: int, warn: int) -> str:
    if c["reported_at"] is not None:
        return "reported"
    if c["stopped_at"] is not None:
        return "stopped"
    if now >= c["due_at"]:
        return "overdue"
    return "warning" if now >= c["due_at"] - warn else "running"
