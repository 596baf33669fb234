"""Read models of the evaluation pages, as functions over plain inputs: the caller (`access.Access`)
resolves the caller's scope and hands in only what lies inside it (the enterprises, their alarms,
incidents, grades, points), so nothing here can see past a tenant's boundary or needs the services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hazwatch.alarms import public
from hazwatch.alarms.hygiene import HygienePolicy
from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.clock import iso
from hazwatch.domain.limits import Priority
from hazwatch.risk.kpis import KpiPolicy, alarm_kpis, incident_kpis
from hazwatch.risk.overview import ColourRule, colours


def without_org(item: dict) -> dict:
    """A row as a caller sees it: the internal org id left out (codes name the org)."""
    return {k: v for k, v in item.items() if k != "org_id"}


def overview(enterprises: dict[int, tuple[str, str]], active_alarms: Iterable[tuple[int, Any]],
             open_incidents: Iterable[tuple[int, dict]], grades: list[dict], points: list[dict],
             overdue: dict, rule: ColourRule) -> list[dict]:
    """Each enterprise's colour with its reasons. `active_alarms`: (org id, alarm point) of the active
    alarms; `open_incidents`: (org id, incident) of the open ones, both already within `enterprises`."""
    alarms: dict[int, dict[str, int]] = {}
    for org, p in active_alarms:
        if not p.suppressed and p.shelved_until is None:
            label = Priority(p.priority).label
            alarms.setdefault(org, {}).setdefault(label, 0)
            alarms[org][label] += 1
    incidents: dict[int, dict[str, int]] = {}
    for org, i in open_incidents:
        slot = incidents.setdefault(org, {"open": 0, "urgent": 0})
        slot["open"] += 1
        slot["urgent"] += i["priority"] == "urgent"
    return colours(enterprises, grades, points, alarms, incidents, overdue, rule)


def kpi_alarms(points: Iterable[Any], index: SensorIndex, area: frozenset[int] | None) -> dict[int, dict]:
    """The alarm points the KPIs count (those of the orgs in `area`; None: all), by id, each with the
    label, priority and state the KPI tables show."""
    return {p.id: {"label": f"{owner.code} {p.condition}", "priority": p.priority, "active": p.active,
                   "raised_at": p.raised_at} for p in points
            if (owner := index.owner_of(p)) is not None and (area is None or owner.org_id in area)}


def kpis(enterprise: str | None, start: int, end: int, alarms: dict[int, dict], events: list[dict],
         response_times: list[dict], hygiene: HygienePolicy, bucket_us: int | None = None) -> dict:
    """Alarm and incident KPIs over [start, end): `alarms` the alarm points of the area by id (label,
    priority, active, raised_at), `events` their journal in the period, `response_times` the area's
    incidents'. Floods and chatter are counted by the live hygiene's thresholds."""
    return {"enterprise": enterprise, "start": iso(start), "end": iso(end),
            "alarms": alarm_kpis(events, alarms, start, end, KpiPolicy(hygiene), bucket_us=bucket_us),
            "incidents": incident_kpis(response_times)}


def pack_sections(installs: list[dict], points: Callable[[], Iterable[Any]], index: SensorIndex,
                  raised_events: Callable[[list[int]], list[dict]]) -> list[dict]:
    """The report sections an enterprise's packs add: per section, each of its sensors with the alarms
    it raised, by condition. `points()`: the alarm points (read only when a section names a sensor);
    `raised_events(alarm ids)`: their raise events in the period."""
    wanted = {t for i in installs for sec in i["report"] for t in sec["tags"]}
    if not wanted:
        return []
    tag_of = {}
    for p in points():
        tag = public(p, index)["sensor"]
        if tag in wanted:
            tag_of[p.id] = (tag, p.condition)
    raised: dict[str, dict[str, int]] = {t: {} for t in wanted}
    for e in raised_events(list(tag_of)):
        tag, cond = tag_of[e["alarm_id"]]
        raised[tag][cond] = raised[tag].get(cond, 0) + 1
    return [{"pack": i["pack"], "title": sec["title"],
             "rows": [{"tag": t, "name": _name(index, t), "raised": sum(raised[t].values()),
                       "conditions": dict(sorted(raised[t].items()))} for t in sec["tags"]]}
            for i in installs for sec in i["report"]]


def _name(index: SensorIndex, tag: str) -> str:
    sid = index.tag_to_id.get(tag)
    return index.info[sid]["name"] if sid is not None else ""
