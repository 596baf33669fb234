"""The hidden-danger register (隐患, SAFETY.md §4): records, their lifecycle and overdue warnings.

    reported → under_review → rectifying → awaiting_acceptance → accepted → closed
                                   ▲                │
                                   └── rejected ────┘   (a failed acceptance)

A major hidden danger cannot leave `reported` until it names its responsible person, deadline,
measures, funding and contingency plan. One past its deadline and not yet accepted is overdue: it
counts in its enterprise's colour, and a warning goes out once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from hazwatch.domain import Clock
from hazwatch.domain.clock import iso
from hazwatch.domain.errors import Conflict, Invalid, NotFound
from hazwatch.domain.limits import Priority
from hazwatch.risk.models import HiddenDanger, HiddenDangerEvent

_H = HiddenDanger.__table__
_E = HiddenDangerEvent.__table__
STATES = ("reported", "under_review", "rectifying", "awaiting_acceptance", "accepted", "closed")
NEXT = {"reported": ("under_review",), "under_review": ("rectifying",), "rectifying": ("awaiting_acceptance",),
        "awaiting_acceptance": ("accepted", "rectifying"), "accepted": ("closed",)}
OPEN = ("reported", "under_review", "rectifying", "awaiting_acceptance")
FOUND_BY = ("daily", "comprehensive", "specialist", "seasonal", "holiday", "accident_analogy", "pre_restart",
            "expert", "control_check")
MAJOR_ITEMS = ("responsible", "deadline", "measures", "funding", "contingency_plan")
EDITABLE = ("title", "description", "responsible", "deadline", "measures", "funding", "contingency_plan")

# warns an org of an overdue hidden danger: (conn, org id, subject, body, priority)
Warn = Callable[[Connection, int, str, str, int], None]
# records a change in the caller's audit log, in its transaction: (conn, action, object id, what)
Audit = Callable[[Connection, str, int, dict], None]


class HiddenDangerRegister:
    def __init__(self, engine: Engine, clock: Clock, warn: Warn | None = None) -> None:
        self.engine, self.clock, self.warn = engine, clock, warn

    def report(self, org_id: int, hazard_source_id: int | None, fields: dict[str, Any], actor: str,
               audit: Audit | None = None) -> int:
        now = self.clock.now_us()
        row = {k: fields.get(k) for k in ("title", "description", "grade", "found_by", "handling", *MAJOR_ITEMS)}
        with self.engine.begin() as conn:
            hd = conn.execute(insert(_H).values(org_id=org_id, hazard_source_id=hazard_source_id, state="reported",
                                                reported_by=actor, reported_at=now, **row).returning(_H.c.id)
                              ).scalar_one()
            self._event(conn, hd, now, actor, "reported", f"{row['grade']} hidden danger reported: {row['title']} "
                                                         f"(found by {row['found_by']} inspection)")
            if audit is not None:
                audit(conn, "hidden_danger.report", hd, {"title": row["title"], "grade": row["grade"]})
        return hd

    def transition(self, hd_id: int, to: str, actor: str, comment: str | None = None,
                   fields: dict[str, Any] | None = None, audit: Audit | None = None) -> None:
        """Move to `to`, first filling in or changing any of EDITABLE given in `fields`."""
        now = self.clock.now_us()
        with self.engine.begin() as conn:
            r = self._get(conn, hd_id)
            if to not in NEXT.get(r["state"], ()):
                allowed = ", ".join(NEXT.get(r["state"], ())) or "nothing (it is closed)"
                raise Conflict(f"hidden danger {hd_id} is {r['state']}: it can go to {allowed}, not {to}")
            changes = {k: v for k, v in (fields or {}).items() if k in EDITABLE and v is not None and v != r[k]}
            after = {**dict(r), **changes}
            if r["grade"] == "major" and r["state"] == "reported":
                missing = [k for k in MAJOR_ITEMS if after.get(k) in (None, "")]
                if missing:
                    raise Invalid(f"a major hidden danger names its {', '.join(MAJOR_ITEMS)} before it can proceed; "
                                  f"missing: {', '.join(missing)}")
            values: dict[str, Any] = {"state": to, **changes}
            if to == "closed":
                values["closed_at"] = now
            conn.execute(update(_H).where(_H.c.id == hd_id).values(**values))
            if changes:
                shown = ", ".join(f"{k} = {iso(v) if k == 'deadline' else v}" for k, v in changes.items())
                self._event(conn, hd_id, now, actor, "edited", shown)
            kind = "rejected" if (r["state"], to) == ("awaiting_acceptance", "rectifying") else "state"
            self._event(conn, hd_id, now, actor, kind, f"{r['state']} → {to}" + (f": {comment}" if comment else ""))
            if audit is not None:
                audit(conn, "hidden_danger.transition", hd_id, {"from": r["state"], "to": to, "comment": comment,
                                                                 **{k: v for k, v in changes.items()}})

    def tick(self) -> int:
        """Warn once about each hidden danger that has passed its deadline unaccepted; returns how many."""
        now = self.clock.now_us()
        with self.engine.connect() as conn:
            due = conn.execute(select(_H).where(_H.c.state.in_(OPEN), _H.c.deadline < now,
                                                _H.c.overdue_warned_at.is_(None))).mappings().all()
        for r in due:
            with self.engine.begin() as conn:
                conn.execute(update(_H).where(_H.c.id == r["id"]).values(overdue_warned_at=now))
                self._event(conn, r["id"], now, "system", "overdue", f"deadline {iso(r['deadline'])} passed "
                                                                     f"while {r['state']}")
                if self.warn is not None:
                    prio = int(Priority.URGENT if r["grade"] == "major" else Priority.HIGH)
                    self.warn(conn, r["org_id"], f"Hidden danger #{r['id']} overdue: {r['title']}",
                              f"{r['grade']} hidden danger, {r['state']}, deadline {iso(r['deadline'])}, "
                              f"responsible {r['responsible'] or 'not named'}", prio)
        return len(due)

    # -- reading --------------------------------------------------------------------------------------------
    def _get(self, conn: Connection, hd_id: int):
        r = conn.execute(select(_H).where(_H.c.id == hd_id)).mappings().first()
        if r is None:
            raise NotFound(f"hidden danger {hd_id} not found")
        return r

    def _event(self, conn: Connection, hd_id: int, ts: int, actor: str, kind: str, detail: str) -> None:
        conn.execute(insert(_E).values(hidden_danger_id=hd_id, ts=ts, actor=actor, kind=kind, detail=detail[:2000]))

    def org_of(self, hd_id: int) -> int | None:
        with self.engine.connect() as conn:
            return conn.scalar(select(_H.c.org_id).where(_H.c.id == hd_id))

    def list(self, org_ids: frozenset[int] | None, state: str | None = None) -> list[dict]:
        q = select(_H).order_by(_H.c.id.desc())
        if org_ids is not None:
            q = q.where(_H.c.org_id.in_(org_ids))
        if state == "open":
            q = q.where(_H.c.state.in_(OPEN))
        elif state == "overdue":
            q = q.where(_H.c.state.in_(OPEN), _H.c.deadline < self.clock.now_us())
        elif state is not None:
            q = q.where(_H.c.state == state)
        with self.engine.connect() as conn:
            return [self._public(r) for r in conn.execute(q.limit(2000)).mappings()]

    def detail(self, hd_id: int) -> dict:
        with self.engine.connect() as conn:
            r = self._get(conn, hd_id)
            events = conn.execute(select(_E).where(_E.c.hidden_danger_id == hd_id).order_by(_E.c.id)).mappings().all()
        return self._public(r) | {"history": [{"ts": iso(e["ts"]), "actor": e["actor"], "kind": e["kind"],
                                               "detail": e["detail"]} for e in events]}

    def overdue_by_org(self, org_ids: frozenset[int] | None) -> dict[int, dict[str, int]]:
        """Org id -> {"major": n, "general": n} of overdue hidden dangers."""
        out: dict[int, dict[str, int]] = {}
        for h in self.list(org_ids, "overdue"):
            out.setdefault(h["org_id"], {"major": 0, "general": 0})[h["grade"]] += 1
        return out

    def _public(self, r) -> dict:
        now = self.clock.now_us()
        return {"id": r["id"], "org_id": r["org_id"], "hazard_source_id": r["hazard_source_id"], "title": r["title"],
                "description": r["description"], "grade": r["grade"], "found_by": r["found_by"],
                "handling": r["handling"], "state": r["state"], "responsible": r["responsible"],
                "deadline": iso(r["deadline"]), "measures": r["measures"], "funding": r["funding"],
                "contingency_plan": r["contingency_plan"], "reported_by": r["reported_by"],
                "reported_at": iso(r["reported_at"]), "closed_at": iso(r["closed_at"]),
                "overdue": r["state"] in OPEN and r["deadline"] is not None and r["deadline"] < now}
