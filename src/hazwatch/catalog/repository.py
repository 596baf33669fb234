"""Apply catalog documents to the database (all or nothing) and read the catalog back."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.models import CatalogMeta, Device, HazardSource, Org, Sensor, Site
from hazwatch.catalog.schema import CatalogDoc, DeviceDoc, HazardSourceDoc, OrgDoc, SensorDoc, SiteDoc

# Which org kinds may stand above each kind.
_PARENT_KINDS = {"regulator": {None, "regulator"}, "park": {"regulator"}, "enterprise": {"park", "regulator"}}


@dataclass
class ApplySummary:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    revision: int = 0


class CatalogRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writing -----------------------------------------------------------------------------------
    def apply(self, doc: CatalogDoc, source: str = "catalog") -> ApplySummary:
        """Validate references against the file and the stored catalog, then upsert in one
        transaction; any problem refuses the whole document."""
        with Session(self.engine) as session, session.begin():
            problems = self._check(session, doc, source)
            if problems:
                raise CatalogError(problems)
            summary = ApplySummary()
            orgs = self._codes(session, Org)
            for item in _parents_first(doc.orgs):
                self._upsert(session, Org, "code", item.code, {
                    "name": item.name, "kind": item.kind,
                    "parent_id": orgs[item.parent] if item.parent else None}, summary, "orgs")
                orgs[item.code] = session.scalar(select(Org.id).where(Org.code == item.code))
            sites = self._codes(session, Site)
            for item in doc.sites:
                obj = self._upsert(session, Site, "code", item.code, {
                    "name": item.name, "org_id": orgs[item.org],
                    "longitude": item.longitude, "latitude": item.latitude}, summary, "sites")
                sites[item.code] = obj.id
            hazards = self._codes(session, HazardSource)
            for item in doc.hazard_sources:
                obj = self._upsert(session, HazardSource, "code", item.code, {
                    "name": item.name, "org_id": orgs[item.org], "site_id": sites.get(item.site),
                    "kind": item.kind, "substances": [s.model_dump(exclude_none=True) for s in item.substances],
                    "exposed_people": item.exposed_people}, summary, "hazard_sources")
                hazards[item.code] = obj.id
            devices = self._codes(session, Device)
            for item in doc.devices:
                obj = self._upsert(session, Device, "code", item.code, {
                    "name": item.name, "kind": item.kind, "org_id": orgs[item.org],
                    "site_id": sites.get(item.site), "hazard_source_id": hazards.get(item.hazard_source)},
                    summary, "devices")
                devices[item.code] = obj.id
            for item in doc.sensors:
                values = item.model_dump(exclude={"tag", "device", "hazard_source"})
                values["device_id"] = devices[item.device]
                values["hazard_source_id"] = hazards.get(item.hazard_source)
                self._upsert(session, Sensor, "tag", item.tag, values, summary, "sensors")
            meta = session.get(CatalogMeta, 1)
            if meta is None:
                meta = CatalogMeta(id=1, revision=0)
                session.add(meta)
            meta.revision += 1
            summary.revision = meta.revision
            return summary

    @staticmethod
    def _codes(session: Session, model) -> dict[str, int]:
        key = model.tag if model is Sensor else model.code
        return {code: id_ for code, id_ in session.execute(select(key, model.id))}

    @staticmethod
    def _upsert(session: Session, model, key: str, value: str, fields: dict, summary: ApplySummary, name: str):
        obj = session.scalar(select(model).where(getattr(model, key) == value))
        if obj is None:
            obj = model(**{key: value}, **fields)
            session.add(obj)
            summary.created[name] = summary.created.get(name, 0) + 1
        else:
            for k, v in fields.items():
                setattr(obj, k, v)
            summary.updated[name] = summary.updated.get(name, 0) + 1
        session.flush()
        return obj

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
                                    (doc.devices, "code", "devices"), (doc.sensors, "tag", "sensors")):
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
                above = "no parent" if parent_kind is None else f"a {parent_kind}"
                problems.append(f"{source}: orgs[{i}].parent: a {o.kind} cannot have {above} above it")
        problems.extend(_cycles(doc.orgs, source))
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
        for i, item in enumerate(doc.sensors):
            ref("sensors", i, "device", item.device, devices, "device")
            ref("sensors", i, "hazard_source", item.hazard_source, hazards, "hazard source")
        return problems

    # -- reading -----------------------------------------------------------------------------------
    def revision(self) -> int:
        with Session(self.engine) as session:
            meta = session.get(CatalogMeta, 1)
            return meta.revision if meta else 0

    def export(self) -> CatalogDoc:
        with Session(self.engine) as s:
            orgs = {o.id: o for o in s.scalars(select(Org).order_by(Org.id))}
            sites = {x.id: x for x in s.scalars(select(Site).order_by(Site.id))}
            hazards = {x.id: x for x in s.scalars(select(HazardSource).order_by(HazardSource.id))}
            devices = {x.id: x for x in s.scalars(select(Device).order_by(Device.id))}
            sensors = list(s.scalars(select(Sensor).order_by(Sensor.id)))

            def code(pool, id_):
                return pool[id_].code if id_ is not None else None

            return CatalogDoc(
                orgs=[OrgDoc(code=o.code, name=o.name, kind=o.kind, parent=code(orgs, o.parent_id))
                      for o in _parents_first_rows(orgs)],
                sites=[SiteDoc(code=x.code, name=x.name, org=orgs[x.org_id].code, longitude=x.longitude,
                               latitude=x.latitude) for x in sites.values()],
                hazard_sources=[HazardSourceDoc(code=x.code, name=x.name, org=orgs[x.org_id].code,
                                                site=code(sites, x.site_id), kind=x.kind,
                                                substances=x.substances, exposed_people=x.exposed_people)
                                for x in hazards.values()],
                devices=[DeviceDoc(code=x.code, name=x.name, kind=x.kind, org=orgs[x.org_id].code,
                                   site=code(sites, x.site_id), hazard_source=code(hazards, x.hazard_source_id))
                         for x in devices.values()],
                sensors=[SensorDoc(tag=x.tag, device=devices[x.device_id].code,
                                   hazard_source=code(hazards, x.hazard_source_id),
                                   **{k: getattr(x, k) for k in SensorDoc.model_fields
                                      if k not in ("tag", "device", "hazard_source")})
                         for x in sensors],
            )


def _parents_first(orgs: list[OrgDoc]) -> list[OrgDoc]:
    in_doc = {o.code for o in orgs}
    done: set[str] = set()
    out: list[OrgDoc] = []
    pending = list(orgs)
    while pending:
        rest = [o for o in pending if o.parent in in_doc and o.parent not in done]
        ready = [o for o in pending if o not in rest]
        if not ready:  # a cycle; _check has reported it already
            break
        out.extend(ready)
        done.update(o.code for o in ready)
        pending = rest
    return out


def _parents_first_rows(orgs: dict[int, Org]) -> list[Org]:
    depth: dict[int, int] = {}

    def d(o: Org) -> int:
        if o.id not in depth:
            depth[o.id] = 0 if o.parent_id is None else d(orgs[o.parent_id]) + 1
        return depth[o.id]

    return sorted(orgs.values(), key=lambda o: (d(o), o.id))


def _cycles(orgs: list[OrgDoc], source: str) -> list[str]:
    parent = {o.code: o.parent for o in orgs}
    for i, o in enumerate(orgs):
        seen, cur = set(), o.code
        while cur in parent and parent[cur] is not None:
            if cur in seen:
                return [f"{source}: orgs[{i}].parent: the org tree has a cycle through {o.code!r}"]
            seen.add(cur)
            cur = parent[cur]
    return []
