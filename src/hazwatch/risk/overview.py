"""Each enterprise's current colour, and why. The colour is the most severe of what the rule
derives from (SAFETY.md §4 colours, blue < yellow < orange < red):

- its hazard sources' GB 18218 grades (`grade_colours`, level 1 red … level 4 blue),
- its worst assessed risk point (the point's own colour),
- active alarms by priority (`alarm_colours`: urgent → orange, high → yellow),
- open incidents (`incident_colour`, or `urgent_incident_colour` for an urgent one),
- overdue hidden dangers by grade (`overdue_colours`: major → red, general → orange).

An enterprise with none of these is blue. The rule is `HAZWATCH_RISK_COLOUR_RULE` (JSON of
ColourRule); every contribution is listed, so a colour explains itself."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hazwatch.catalog.models import HazardSource, Org
from hazwatch.domain.errors import Invalid
from hazwatch.risk.assess import worst
from hazwatch.risk.grading import evaluate

Colour = Literal["blue", "yellow", "orange", "red"]


class ColourRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grade_colours: dict[int, Colour] = {1: "red", 2: "orange", 3: "yellow", 4: "blue"}
    alarm_colours: dict[Literal["low", "medium", "high", "urgent"], Colour] = {"urgent": "orange", "high": "yellow"}
    incident_colour: Colour | None = "orange"
    urgent_incident_colour: Colour | None = "red"
    overdue_colours: dict[Literal["general", "major"], Colour] = {"major": "red", "general": "orange"}


def grade_sources(engine: Engine, org_ids: frozenset[int] | None) -> list[dict]:
    """Every hazard source in scope with its grading (or why it cannot be graded)."""
    with Session(engine) as s:
        orgs = {o.id: o.code for o in s.scalars(select(Org))}
        rows = [h for h in s.scalars(select(HazardSource).order_by(HazardSource.id))
                if org_ids is None or h.org_id in org_ids]
        out = []
        for h in rows:
            item = {"code": h.code, "name": h.name, "enterprise": orgs.get(h.org_id), "org_id": h.org_id,
                    "exposed_people": h.exposed_people, "grading": None, "error": None}
            try:
                item["grading"] = evaluate(list(h.substances or []), h.exposed_people).as_dict()
            except Invalid as e:
                item["error"] = e.message
            out.append(item)
    return out


def colours(enterprises: dict[int, tuple[str, str]], sources: list[dict], points: list[dict],
            alarms: dict[int, dict[str, int]], incidents: dict[int, dict[str, int]],
            overdue: dict[int, dict[str, int]], rule: ColourRule | None = None) -> list[dict]:
    """enterprises: id -> (code, name); alarms: org -> {priority: active count}; incidents: org ->
    {"open": n, "urgent": n}; overdue: org -> {"major": n, "general": n}."""
    rule = rule or ColourRule()
    out = []
    for org_id, (code, name) in sorted(enterprises.items(), key=lambda kv: kv[1][0]):
        reasons: list[dict] = []
        for src in (s for s in sources if s["org_id"] == org_id and s["grading"] and s["grading"]["level"]):
            lv = src["grading"]["level"]
            if lv in rule.grade_colours:
                reasons.append({"source": "hazard_grade", "colour": rule.grade_colours[lv],
                                "detail": f"{src['code']} is a level {lv} major hazard (R = {src['grading']['R']:g})",
                                "params": {"code": src["code"], "level": lv, "R": src["grading"]["R"]}})
        mine = [p for p in points if p["org_id"] == org_id]
        if mine:
            top = max(mine, key=lambda p: ("blue", "yellow", "orange", "red").index(p["colour"]))
            reasons.append({"source": "risk_point", "colour": top["colour"],
                            "detail": f"worst risk point {top['name']}: {top['explanation']}",
                            "params": {"name": top["name"], "method": top["method"], "value": top["value"]}})
        for prio, n in sorted((alarms.get(org_id) or {}).items()):
            if n and prio in rule.alarm_colours:
                reasons.append({"source": "alarms", "colour": rule.alarm_colours[prio],
                                "detail": f"{n} active {prio} alarm{'s' if n > 1 else ''}",
                                "params": {"count": n, "priority": prio}})
        inc = incidents.get(org_id) or {}
        if inc.get("urgent") and rule.urgent_incident_colour:
            reasons.append({"source": "incidents", "colour": rule.urgent_incident_colour,
                            "detail": f"{inc['urgent']} open urgent incident{'s' if inc['urgent'] > 1 else ''}",
                            "params": {"count": inc["urgent"], "urgent": True}})
        elif inc.get("open") and rule.incident_colour:
            reasons.append({"source": "incidents", "colour": rule.incident_colour,
                            "detail": f"{inc['open']} open incident{'s' if inc['open'] > 1 else ''}",
                            "params": {"count": inc["open"], "urgent": False}})
        for grade, n in sorted((overdue.get(org_id) or {}).items()):
            if n and grade in rule.overdue_colours:
                reasons.append({"source": "hidden_dangers", "colour": rule.overdue_colours[grade],
                                "detail": f"{n} overdue {grade} hidden danger{'s' if n > 1 else ''}",
                                "params": {"count": n, "grade": grade}})
        out.append({"enterprise": code, "name": name, "colour": worst(r["colour"] for r in reasons) or "blue",
                    "reasons": reasons})
    return out
