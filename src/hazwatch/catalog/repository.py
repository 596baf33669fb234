"""Apply catalog documents to the database (all or nothing) and read the catalog back."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hazwatch.catalog import endpoints
from hazwatch.catalog.endpoints import normal_address
from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.models import (
    CatalogMeta,
    Device,
    Endpoint,
    HazardSource,
    IncidentTrigger,
    Org,
    Plan,
    Rule,
    Sensor,
    Site,
    Unit,
)
from hazwatch.catalog.orgtree import not_an_enterprise, within
from hazwatch.catalog.schema import (
    CatalogDoc,
    DeviceDoc,
    EndpointDoc,
    HazardSourceDoc,
    OrgDoc,
    PlanDoc,
    RuleDoc,
    SensorDoc,
    SiteDoc,
    TriggerDoc,
    UnitDoc,
)
from hazwatch.catalog.upsert import ApplySummary, upsert_all
from hazwatch.domain.errors import Conflict, Invalid
from hazwatch.domain.rulelang import parse as parse_rule
from hazwatch.domain.text import a

# Which org kinds may stand above each kind.
_PARENT_KINDS = {"region": {None, "region"}, "park": {"region"}, "enterprise": {"park", "region"}}


class _DryRun(Exception):  # noqa: N818 - not an error: the way out of a transaction that must not commit
    def __init__(self, summary: ApplySummary) -> None:
        self.summary = summary


class CatalogRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writing -----------------------------------------------------------------------------------
    def apply(self, doc: CatalogDoc, source: str = "catalog", allowed: frozenset[int] | None = None,
              on_change: Callable[[Session, str, str, dict | None, dict], None] | None = None,
              dry_run: bool = False, also: Callable[[Session], None] | None = None) -> ApplySummary:
        """Validate references against the file and the stored catalog, then upsert in one
        transaction; any problem refuses the whole document.

        `allowed` limits the document to a tenant scope (org ids): it may only touch objects of
        those orgs, and what lies outside reads as unknown. `on_change(session, section, key, before,
        after)` sees every created or changed item inside the transaction (the audit log), and
        `also(session)` writes what belongs with the document in the same transaction. A dry run
        does all of it and rolls the transaction back: the summary says what would change."""
        try:
            return self._apply(doc, source, allowed, on_change, dry_run, also)
        except _DryRun as d:
            return d.summary

    def create_org(self, name: str, kind: str, parent: str | None, code: str | None,
                   allowed: frozenset[int] | None, on_change=None) -> str:
        """A new org below `parent` (a code in `allowed`), its code given or made (K-XXXXXXXX); the
        errors name the request's fields, not a catalog document's. Returns the code."""
        code = code or f"{kind[:1].upper()}-{secrets.token_hex(4).upper()}"
        with Session(self.engine) as s:
            if s.scalar(select(Org.id).where(Org.code == code)) is not None:
                raise Conflict(f"org code {code!r} is taken")
        try:
            self.apply(CatalogDoc(orgs=[OrgDoc(code=code, name=name, kind=kind, parent=parent)]), "org", allowed,
                       on_change)
        except CatalogError as e:
            raise Invalid("; ".join(p.split(": ", 1)[-1].replace("orgs[0].", "") for p in e.problems)) from None
        return code

    def hazard_source_id(self, code: str | None, org_id: int) -> int | None:
        """The id of an enterprise's hazard source named by code (None for none); another's or an
        unknown one is refused alike."""
        if code is None:
            return None
        with Session(self.engine) as s:
            row = s.execute(select(HazardSource.id, HazardSource.org_id).where(HazardSource.code == code)).first()
        if row is None or row.org_id != org_id:
            raise Invalid(f"hazard source {code!r} is not one of this enterprise's")
        return row.id

    def _apply(self, doc: CatalogDoc, source: str, allowed: frozenset[int] | None,
               on_change: Callable | None, dry_run: bool, also: Callable[[Session], None] | None) -> ApplySummary:
        with Session(self.engine) as session, session.begin():
            # Scope first, so that nothing outside it is described (not even its kind) to the caller.
            problems = (self._check_scope(session, doc, source, allowed)
                        + endpoints.check_scope(session, doc, source, allowed)) if allowed is not None else []
            problems = problems or self._check(session, doc, source)
            if problems:
                raise CatalogError(problems)
            summary = ApplySummary(on_change=on_change)
            orgs = self._codes(session, Org)
            ordered = _parents_first(doc.orgs)

            def parents(ids: dict[str, int]) -> dict[str, dict]:  # a parent the document creates has its id now
                return {o.code: {"parent_id": ids[o.parent] if o.parent in ids else orgs.get(o.parent)
                                 if o.parent else None} for o in ordered}

            orgs |= upsert_all(session, Org, "code", [(o.code, {
                "name": o.name, "kind": o.kind, "parent_id": orgs.get(o.parent) if o.parent else None})
                for o in ordered], summary, "orgs", then=parents)
            sites = self._codes(session, Site)
            sites |= upsert_all(session, Site, "code", [(x.code, {
                "name": x.name, "org_id": orgs[x.org], "longitude": x.longitude, "latitude": x.latitude})
                for x in doc.sites], summary, "sites")
            hazards = self._codes(session, HazardSource)
            hazards |= upsert_all(session, HazardSource, "code", [(x.code, {
                "name": x.name, "org_id": orgs[x.org], "site_id": sites.get(x.site), "kind": x.kind,
                "substances": [s.model_dump(exclude_none=True) for s in x.substances],
                "exposed_people": x.exposed_people}) for x in doc.hazard_sources], summary, "hazard_sources")
            devices = self._codes(session, Device)
            devices |= upsert_all(session, Device, "code", [(x.code, {
                "name": x.name, "kind": x.kind, "org_id": orgs[x.org], "site_id": sites.get(x.site),
                "hazard_source_id": hazards.get(x.hazard_source)}) for x in doc.devices], summary, "devices")
            upsert_all(session, Endpoint, "code", [(x.code, {
                "name": x.name, "org_id": orgs[x.org], "address": normal_address(x.address)})
                for x in doc.endpoints], summary, "endpoints")
            upsert_all(session, Sensor, "tag", [(x.tag, x.model_dump(exclude={"tag", "device", "hazard_source"}) | {
                "device_id": devices[x.device], "hazard_source_id": hazards.get(x.hazard_source)})
                for x in doc.sensors], summary, "sensors")
            upsert_all(session, Unit, "code", [(u.code, {
                "name": u.name, "org_id": orgs[u.org], "hazard_source_id": hazards.get(u.hazard_source),
                "model": u.model, "priority": u.priority, "clear_rows": u.clear_rows}) for u in doc.units],
                summary, "units")
            upsert_all(session, Rule, "code", [(r.code, {
                "name": r.name, "org_id": orgs[r.org], "when": r.when, "priority": r.priority})
                for r in doc.rules], summary, "rules")
            upsert_all(session, Plan, "code", [(p.code, {
                "name": p.name, "org_id": orgs[p.org], "layer": p.layer, "doc": p.model_dump(mode="json")})
                for p in doc.plans], summary, "plans")
            upsert_all(session, IncidentTrigger, "code", [(t.code, {
                "name": t.name, "org_id": orgs[t.org], "doc": t.model_dump(mode="json")})
                for t in doc.incident_triggers], summary, "incident_triggers")
            session.expire_all()  # objects the checks loaded are older than the rows written since
            if also is not None:
                also(session)
            meta = session.get(CatalogMeta, 1)
            if meta is None:
                meta = CatalogMeta(id=1, revision=0)
                session.add(meta)
            meta.revision += 1
            summary.revision = meta.revision
            if dry_run:
                raise _DryRun(summary)  # leaving the block by an exception rolls everything back
            return summary

    @staticmethod
    def _codes(session: Session, model) -> dict[str, int]:
        key = model.tag if model is Sensor else model.code
        return {code: id_ for code, id_ in session.execute(select(key, model.id))}

    def _check_scope(self, session: Session, doc: CatalogDoc, source: str, allowed: frozenset[int]) -> list[str]:
        """Objects outside the scope read as unknown; codes taken outside it as not available."""
        problems: list[str] = []
        rows = session.execute(select(Org.id, Org.code, Org.parent_id, Org.kind)).all()
        org_ids = {code: id_ for id_, code, _, _ in rows}
        code_of = {id_: code for id_, code, _, _ in rows}
        parent_of = {code: code_of.get(parent) for _, code, parent, _ in rows}
        kind_of = {code: kind for _, code, _, kind in rows}
        ok: dict[str, set[str]] = {"org": {c for c, i in org_ids.items() if i in allowed}}
        position = {id(o): i for i, o in enumerate(doc.orgs)}
        for o in _parents_first(doc.orgs):
            i = position[id(o)]
            if o.code in org_ids:
                if o.code not in ok["org"]:
                    problems.append(f"{source}: orgs[{i}].code: {o.code!r} is not available")
                elif o.parent != parent_of[o.code] and o.parent is None:
                    problems.append(f"{source}: orgs[{i}].parent: only an administrator of the whole installation "
                                    "puts an org at the top of the tree")
                elif o.parent != parent_of[o.code] and o.parent not in ok["org"]:
                    problems.append(f"{source}: orgs[{i}].parent: unknown org {o.parent!r}")
                elif o.kind != kind_of[o.code]:
                    problems.append(f"{source}: orgs[{i}].kind: an org's kind ({kind_of[o.code]}) is changed only "
                                    "by an administrator of the whole installation")
            elif o.parent in ok["org"]:
                ok["org"].add(o.code)
            elif o.parent is None:
                problems.append(f"{source}: orgs[{i}].parent: only an administrator of the whole installation "
                                "puts an org at the top of the tree")
            else:
                problems.append(f"{source}: orgs[{i}].parent: unknown org {o.parent!r}")

        def refs(section: str, i: int, item, fields: tuple[tuple[str, str], ...]) -> None:
            for fld, pool in fields:
                code = getattr(item, fld)
                if code is not None and code not in ok[pool]:
                    problems.append(f"{source}: {section}[{i}].{fld}: unknown {pool.replace('_', ' ')} {code!r}")

        sections = (("sites", Site, doc.sites, "site", (("org", "org"),)),
                    ("hazard_sources", HazardSource, doc.hazard_sources, "hazard_source",
                     (("org", "org"), ("site", "site"))),
                    ("devices", Device, doc.devices, "device",
                     (("org", "org"), ("site", "site"), ("hazard_source", "hazard_source"))))
        for section, model, items, pool, fields in sections:
            mine = {r.code: r.org_id in allowed for r in session.scalars(select(model))}
            ok[pool] = {c for c, m in mine.items() if m}
            for i, item in enumerate(items):
                if not mine.get(item.code, True):
                    problems.append(f"{source}: {section}[{i}].code: {item.code!r} is not available")
                    continue
                refs(section, i, item, fields)
                if item.org in ok["org"]:
                    ok[pool].add(item.code)
        dev_org = dict(session.execute(select(Device.id, Device.org_id)).all())
        mine = {s.tag: dev_org.get(s.device_id) in allowed for s in session.scalars(select(Sensor))}
        for i, item in enumerate(doc.sensors):
            if not mine.get(item.tag, True):
                problems.append(f"{source}: sensors[{i}].tag: {item.tag!r} is not available")
            else:
                refs("sensors", i, item, (("device", "device"), ("hazard_source", "hazard_source")))
        ok["sensor"] = {t for t, m in mine.items() if m} | {x.tag for x in doc.sensors if x.device in ok["device"]}
        for i, item in enumerate(doc.sensors):
            for tag in parse_rule(item.suppress_when).tags() if item.suppress_when else ():
                if tag not in ok["sensor"]:
                    problems.append(f"{source}: sensors[{i}].suppress_when: unknown sensor {tag!r}")
        unit_mine = {u.code: u.org_id in allowed for u in session.scalars(select(Unit))}
        for i, item in enumerate(doc.units):
            if not unit_mine.get(item.code, True):
                problems.append(f"{source}: units[{i}].code: {item.code!r} is not available")
                continue
            refs("units", i, item, (("org", "org"), ("hazard_source", "hazard_source")))
            for tag in item.model["columns"]:
                if tag not in ok["sensor"]:
                    problems.append(f"{source}: units[{i}].model.columns: unknown sensor {tag!r}")
        rule_mine = {r.code: r.org_id in allowed for r in session.scalars(select(Rule))}
        for i, item in enumerate(doc.rules):
            if not rule_mine.get(item.code, True):
                problems.append(f"{source}: rules[{i}].code: {item.code!r} is not available")
                continue
            refs("rules", i, item, (("org", "org"),))
            for tag in parse_rule(item.when).tags():
                if tag not in ok["sensor"]:
                    problems.append(f"{source}: rules[{i}].when: unknown sensor {tag!r}")
        for section, model, items in (("plans", Plan, doc.plans), ("incident_triggers", IncidentTrigger,
                                                                   doc.incident_triggers)):
            owned = {r.code: r.org_id in allowed for r in session.scalars(select(model))}
            for i, item in enumerate(items):
                if not owned.get(item.code, True):
                    problems.append(f"{source}: {section}[{i}].code: {item.code!r} is not available")
                    continue
                refs(section, i, item, (("org", "org"),))
        for i, plan in enumerate(doc.plans):
            for j, loc in enumerate(plan.locations):
                if loc not in ok["hazard_source"] and loc not in ok["device"]:
                    problems.append(f"{source}: plans[{i}].locations[{j}]: unknown location {loc!r}")
        ok["rule"] = {c for c, m in rule_mine.items() if m} | {r.code for r in doc.rules}
        ok["unit"] = {c for c, m in unit_mine.items() if m} | {u.code for u in doc.units}
        for i, trig in enumerate(doc.incident_triggers):
            refs("incident_triggers", i, trig, (("rule", "rule"), ("unit", "unit")))
            for j, loc in enumerate(trig.locations):
                if loc not in ok["hazard_source"] and loc not in ok["device"]:
                    problems.append(f"{source}: incident_triggers[{i}].locations[{j}]: unknown location {loc!r}")
        return problems

    def _check(self, session: Session, doc: CatalogDoc, source: str) -> list[str]:
        problems: list[str] = []
        org_kind = {code: kind for code, kind in session.execute(select(Org.code, Org.kind))}
        for o in doc.orgs:
            org_kind[o.code] = o.kind

        def dupes(items, key: str, section: str) -> None:
            seen: dict[str, int] = {}
            for i, it in enumerate(items):
                k = getattr(it, key)
                if k in seen:
                    problems.append(f"{source}: {section}[{i}].{key}: {k!r} already given at {section}[{seen[k]}]")
                seen[k] = i

        for items, key, section in ((doc.orgs, "code", "orgs"), (doc.sites, "code", "sites"),
                                    (doc.hazard_sources, "code", "hazard_sources"),
                                    (doc.devices, "code", "devices"), (doc.endpoints, "code", "endpoints"),
                                    (doc.sensors, "tag", "sensors"),
                                    (doc.units, "code", "units"), (doc.rules, "code", "rules"),
                                    (doc.plans, "code", "plans"), (doc.incident_triggers, "code", "incident_triggers")):
            dupes(items, key, section)

        def known(model, extra) -> set[str]:
            return set(self._codes(session, model)) | {x.code for x in extra}

        sites = known(Site, doc.sites)
        hazards = known(HazardSource, doc.hazard_sources)
        devices = known(Device, doc.devices)

        def ref(section: str, i: int, fld: str, code: str | None, pool, what: str) -> None:
            if code is not None and code not in pool:
                problems.append(f"{source}: {section}[{i}].{fld}: unknown {what} {code!r}")

        for i, o in enumerate(doc.orgs):
            parent_kind = org_kind.get(o.parent) if o.parent else None
            if o.parent and o.parent not in org_kind:
                problems.append(f"{source}: orgs[{i}].parent: unknown org {o.parent!r}")
            elif parent_kind not in _PARENT_KINDS[o.kind]:
                above = "no parent" if parent_kind is None else a(parent_kind)
                problems.append(f"{source}: orgs[{i}].parent: {a(o.kind)} cannot have {above} above it")
        stored_parent = dict(session.execute(select(Org.code, Org.parent_id)).all())
        code_of = dict(session.execute(select(Org.id, Org.code)).all())
        parent = {c: code_of.get(p) for c, p in stored_parent.items()} | {o.code: o.parent for o in doc.orgs}
        problems.extend(_cycles(doc.orgs, parent, source))
        problems.extend(endpoints.check(session, doc, source, org_kind, parent))
        changed_kind = {o.code for o in doc.orgs}
        for child, above in parent.items():  # a stored org whose parent the document gives another kind
            if child not in changed_kind and above in changed_kind and org_kind[above] not in _PARENT_KINDS.get(
                    org_kind[child], {org_kind[above]}):
                i = next(i for i, o in enumerate(doc.orgs) if o.code == above)
                problems.append(f"{source}: orgs[{i}].kind: {above!r} has {a(org_kind[child])} {child!r} below it, "
                                f"which cannot have {a(org_kind[above])} above it")
        leaving = {o.code: i for i, o in enumerate(doc.orgs) if o.kind != "enterprise"}
        if leaving:  # an enterprise the document makes a park or region while it still holds devices
            moved = {d.code for d in doc.devices}
            for org_code, n in session.execute(select(Org.code, func.count()).join(Device, Device.org_id == Org.id)
                                               .where(Org.code.in_(leaving), Device.code.not_in(moved))
                                               .group_by(Org.code)):
                problems.append(f"{source}: orgs[{leaving[org_code]}].kind: {org_code!r} holds {n} device(s), "
                                "and devices belong to an enterprise")
        item: OrgDoc | SiteDoc | HazardSourceDoc | DeviceDoc | SensorDoc
        for i, item in enumerate(doc.sites):
            ref("sites", i, "org", item.org, org_kind, "org")
        for i, item in enumerate(doc.hazard_sources):
            ref("hazard_sources", i, "org", item.org, org_kind, "org")
            ref("hazard_sources", i, "site", item.site, sites, "site")
        for i, item in enumerate(doc.devices):
            ref("devices", i, "org", item.org, org_kind, "org")
            if item.org in org_kind and org_kind[item.org] != "enterprise":
                problems.append(f"{source}: devices[{i}].org: {item.org!r} is a {org_kind[item.org]}, "
                                "devices belong to an enterprise")
            ref("devices", i, "site", item.site, sites, "site")
            ref("devices", i, "hazard_source", item.hazard_source, hazards, "hazard source")
        # every sensor tag the catalog will know, with its enterprise: read only for a document that
        # names sensors in a rule, a suppression condition or a model
        refers = doc.units or doc.rules or any(x.suppress_when for x in doc.sensors)
        tag_org = self._tag_orgs(session, doc) if refers else {}
        for i, item in enumerate(doc.sensors):
            ref("sensors", i, "device", item.device, devices, "device")
            ref("sensors", i, "hazard_source", item.hazard_source, hazards, "hazard source")
            for tag in parse_rule(item.suppress_when).tags() if item.suppress_when else ():
                if tag not in tag_org:
                    problems.append(f"{source}: sensors[{i}].suppress_when: unknown sensor {tag!r}")
        problems.extend(self._check_units(session, doc, source, org_kind, tag_org))
        problems.extend(self._check_rules(session, doc, source, org_kind, tag_org))
        problems.extend(self._check_disposal(session, doc, source, org_kind, hazards, devices))
        return problems

    def _check_disposal(self, session: Session, doc: CatalogDoc, source: str, org_kind: dict[str, str],
                        hazards: set[str], devices: set[str]) -> list[str]:
        """Plans and incident triggers name orgs, locations, rules and units that exist."""
        problems: list[str] = []
        if not doc.plans and not doc.incident_triggers:
            return problems
        for i, plan in enumerate(doc.plans):
            if plan.org not in org_kind:
                problems.append(f"{source}: plans[{i}].org: unknown org {plan.org!r}")
            for j, loc in enumerate(plan.locations):
                if loc not in hazards and loc not in devices:
                    problems.append(f"{source}: plans[{i}].locations[{j}]: {loc!r} is neither a hazard source "
                                    "nor a device")
        rules = set(self._codes(session, Rule)) | {r.code for r in doc.rules}
        units = set(self._codes(session, Unit)) | {u.code for u in doc.units}
        for i, trig in enumerate(doc.incident_triggers):
            if trig.org not in org_kind:
                problems.append(f"{source}: incident_triggers[{i}].org: unknown org {trig.org!r}")
            if trig.rule is not None and trig.rule not in rules:
                problems.append(f"{source}: incident_triggers[{i}].rule: unknown rule {trig.rule!r}")
            if trig.unit is not None and trig.unit not in units:
                problems.append(f"{source}: incident_triggers[{i}].unit: unknown unit {trig.unit!r}")
            for j, loc in enumerate(trig.locations):
                if loc not in hazards and loc not in devices:
                    problems.append(f"{source}: incident_triggers[{i}].locations[{j}]: {loc!r} is neither a hazard "
                                    "source nor a device")
        return problems

    @staticmethod
    def _tag_orgs(session: Session, doc: CatalogDoc) -> dict[str, str | None]:
        """Sensor tag -> code of its device's enterprise, stored and as the document would leave it."""
        org_code = dict(session.execute(select(Org.id, Org.code)).all())
        dev_org = {c: org_code.get(o) for c, o in session.execute(select(Device.code, Device.org_id))}
        dev_org |= {d.code: d.org for d in doc.devices}
        dev_code = dict(session.execute(select(Device.id, Device.code)).all())
        tag_org = {t: dev_org.get(dev_code.get(d)) for t, d in session.execute(select(Sensor.tag, Sensor.device_id))}
        tag_org |= {x.tag: dev_org.get(x.device) for x in doc.sensors}
        return tag_org

    def _check_rules(self, session: Session, doc: CatalogDoc, source: str, org_kind: dict[str, str],
                     tag_org: dict[str, str | None]) -> list[str]:
        """A rule's sensors lie within its org (an enterprise, or a park or region above several)."""
        if not doc.rules:
            return []
        problems: list[str] = []
        org_code = dict(session.execute(select(Org.id, Org.code)).all())
        parent = {c: org_code.get(p) for c, p in session.execute(select(Org.code, Org.parent_id))}
        parent |= {o.code: o.parent for o in doc.orgs}

        for i, item in enumerate(doc.rules):
            if item.org not in org_kind:
                problems.append(f"{source}: rules[{i}].org: unknown org {item.org!r}")
                continue
            for tag in parse_rule(item.when).tags():
                if tag not in tag_org:
                    problems.append(f"{source}: rules[{i}].when: unknown sensor {tag!r}")
                elif not within(parent, tag_org[tag], item.org):
                    problems.append(f"{source}: rules[{i}].when: sensor {tag!r} belongs to {tag_org[tag]!r}, "
                                    f"outside the rule's org {item.org!r}")
        return problems

    def _check_units(self, session: Session, doc: CatalogDoc, source: str, org_kind: dict[str, str],
                     tag_org: dict[str, str | None]) -> list[str]:
        """A unit belongs to an enterprise, and its model's columns are that enterprise's sensors."""
        if not doc.units:
            return []
        problems: list[str] = []
        hazards = set(self._codes(session, HazardSource)) | {x.code for x in doc.hazard_sources}
        for i, item in enumerate(doc.units):
            if (p := not_an_enterprise(f"{source}: units[{i}].org", item.org, org_kind, "units")) is not None:
                problems.append(p)
            if item.hazard_source is not None and item.hazard_source not in hazards:
                problems.append(f"{source}: units[{i}].hazard_source: unknown hazard source {item.hazard_source!r}")
            cols = item.model["columns"]
            if len(set(cols)) != len(cols):
                problems.append(f"{source}: units[{i}].model.columns: a sensor appears twice")
            for tag in cols:
                if tag not in tag_org:
                    problems.append(f"{source}: units[{i}].model.columns: unknown sensor {tag!r}")
                elif tag_org[tag] != item.org:
                    problems.append(f"{source}: units[{i}].model.columns: sensor {tag!r} belongs to "
                                    f"{tag_org[tag]!r}, not to the unit's enterprise {item.org!r}")
        return problems

    # -- reading -----------------------------------------------------------------------------------
    def revision(self) -> int:
        with Session(self.engine) as session:
            meta = session.get(CatalogMeta, 1)
            return meta.revision if meta else 0

    def export(self, allowed: frozenset[int] | None = None) -> CatalogDoc:
        """The catalog, or the part of it inside `allowed` (org ids) for a scoped reader."""
        with Session(self.engine) as s:
            orgs = {o.id: o for o in s.scalars(select(Org).order_by(Org.id))}
            sites = {x.id: x for x in s.scalars(select(Site).order_by(Site.id))}
            hazards = {x.id: x for x in s.scalars(select(HazardSource).order_by(HazardSource.id))}
            devices = {x.id: x for x in s.scalars(select(Device).order_by(Device.id))}
            points = list(s.scalars(select(Endpoint).order_by(Endpoint.id)))
            sensors = list(s.scalars(select(Sensor).order_by(Sensor.id)))
            units = list(s.scalars(select(Unit).order_by(Unit.id)))
            rules = list(s.scalars(select(Rule).order_by(Rule.id)))
            plans = list(s.scalars(select(Plan).order_by(Plan.id)))
            triggers = list(s.scalars(select(IncidentTrigger).order_by(IncidentTrigger.id)))
            if allowed is not None:
                plans = [p for p in plans if p.org_id in allowed]
                triggers = [t for t in triggers if t.org_id in allowed]
                units = [u for u in units if u.org_id in allowed]
                rules = [r for r in rules if r.org_id in allowed]
                points = [e for e in points if e.org_id in allowed]
                mine = {i: o for i, o in orgs.items() if i in allowed}
                sites = {i: x for i, x in sites.items() if x.org_id in allowed}
                hazards = {i: x for i, x in hazards.items() if x.org_id in allowed}
                devices = {i: x for i, x in devices.items() if x.org_id in allowed}
                sensors = [x for x in sensors if x.device_id in devices]
            else:
                mine = orgs

            def code(pool, id_):
                return pool[id_].code if id_ is not None and id_ in pool else None

            return CatalogDoc(
                orgs=[OrgDoc(code=o.code, name=o.name, kind=o.kind, parent=code(orgs, o.parent_id))
                      for o in _parents_first_rows(orgs) if o.id in mine],
                sites=[SiteDoc(code=x.code, name=x.name, org=orgs[x.org_id].code, longitude=x.longitude,
                               latitude=x.latitude) for x in sites.values()],
                hazard_sources=[HazardSourceDoc(code=x.code, name=x.name, org=orgs[x.org_id].code,
                                                site=code(sites, x.site_id), kind=x.kind,
                                                substances=x.substances, exposed_people=x.exposed_people)
                                for x in hazards.values()],
                devices=[DeviceDoc(code=x.code, name=x.name, kind=x.kind, org=orgs[x.org_id].code,
                                   site=code(sites, x.site_id), hazard_source=code(hazards, x.hazard_source_id))
                         for x in devices.values()],
                endpoints=[EndpointDoc(code=e.code, name=e.name, org=orgs[e.org_id].code, address=e.address)
                           for e in points],
                sensors=[SensorDoc(tag=x.tag, device=devices[x.device_id].code,
                                   hazard_source=code(hazards, x.hazard_source_id),
                                   **{k: getattr(x, k) for k in SensorDoc.model_fields
                                      if k not in ("tag", "device", "hazard_source")})
                         for x in sensors],
                units=[UnitDoc(code=u.code, name=u.name, org=orgs[u.org_id].code,
                               hazard_source=code(hazards, u.hazard_source_id), model=u.model, priority=u.priority,
                               clear_rows=u.clear_rows) for u in units],
                rules=[RuleDoc(code=r.code, name=r.name, org=orgs[r.org_id].code, when=r.when, priority=r.priority)
                       for r in rules],
                plans=[PlanDoc.model_validate(p.doc) for p in plans],
                incident_triggers=[TriggerDoc.model_validate(t.doc) for t in triggers],
            )


def _parents_first(orgs: list[OrgDoc]) -> list[OrgDoc]:
    """Each org after the org above it (breadth first, document order within a level), in linear
    time: a document of thousands of orgs is checked as quickly as it is read. Orgs on a cycle are
    left out; _check reports the cycle."""
    in_doc = {o.code for o in orgs}
    below: dict[str, list[OrgDoc]] = {}
    out = [o for o in orgs if o.parent not in in_doc]
    for o in orgs:
        if o.parent in in_doc:
            below.setdefault(o.parent, []).append(o)
    for o in out:  # grows while it is walked: a queue
        out.extend(below.pop(o.code, ()))
    return out


def _parents_first_rows(orgs: dict[int, Org]) -> list[Org]:
    def d(o: Org) -> int:  # a walk, not a recursion: a tree is deep only if someone made it so
        n, seen = 0, {o.id}
        while o.parent_id is not None and o.parent_id in orgs and o.parent_id not in seen:
            o = orgs[o.parent_id]
            seen.add(o.id)
            n += 1
        return n

    return sorted(orgs.values(), key=lambda o: (d(o), o.id))


def _cycles(orgs: list[OrgDoc], parent: dict[str, str | None], source: str) -> list[str]:
    """A cycle through the document's orgs in the tree they make with the stored ones: a document
    may close a loop that neither it nor the store holds alone. Each org is walked once (an org
    whose way up was already walked is known to end at the top)."""
    walked: set[str] = set()
    for i, o in enumerate(orgs):
        path: set[str] = set()
        cur: str | None = o.code
        while cur is not None and cur not in walked:
            if cur in path:
                return [f"{source}: orgs[{i}].parent: the org tree has a cycle through {o.code!r}"]
            path.add(cur)
            cur = parent.get(cur)
        walked |= path
    return []
