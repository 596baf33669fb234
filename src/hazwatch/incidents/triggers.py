"""Triggers and joining (a part of IncidentDesk, a mixin): an alarm activation on a hazard source
with an open incident joins it; a triggering alarm with nothing to join opens one."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from hazwatch.catalog.schema import TriggerDoc
from hazwatch.domain.limits import Priority
from hazwatch.incidents import plans as P
from hazwatch.incidents.placing import Located, locate, matches
from hazwatch.incidents.reading import OPEN_STATES, SYSTEM
from hazwatch.incidents.tables import _A, _I, _IA
from hazwatch.incidents.writing import IncidentWriting

log = logging.getLogger(__name__)


class IncidentTriggers(IncidentWriting):
    """Alarms become incidents: each tick matches the active alarms against the plans' triggers."""

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
