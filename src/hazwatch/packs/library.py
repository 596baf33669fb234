"""Where packs come from: the ones shipped with Hazwatch (`hazwatch/packs/data/<name>/`) or a
folder a user names, and applying one to an enterprise through the catalog."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.models import Device, HazardSource, Org, Sensor, Unit
from hazwatch.catalog.repository import ApplySummary, CatalogRepository
from hazwatch.catalog.schema import CatalogDoc
from hazwatch.domain.clock import SystemClock
from hazwatch.domain.errors import NotFound
from hazwatch.packs.manifest import SECTIONS, Layouts, Manifest, PackError, Selection
from hazwatch.packs.models import PackInstall
from hazwatch.packs.render import Rendered, render
from hazwatch.risk.points import RiskPoints

SHIPPED = Path(__file__).parent / "data"
KEY = {section: "tag" if section == "sensors" else "code" for section in SECTIONS}  # what an item is matched by


@dataclass
class Pack:
    manifest: Manifest
    folder: Path

    @property
    def readme(self) -> str:
        path = self.folder / "README.md"
        return path.read_text(encoding="utf-8") if path.exists() else ""


def shipped() -> list[Pack]:
    return [load(p) for p in sorted(SHIPPED.iterdir()) if (p / "pack.yaml").exists()]


def shipped_pack(name: str) -> Pack:
    """A shipped pack by name only: what the API offers (it never reads a path a caller names)."""
    if not (name and "/" not in name and not name.startswith(".") and (SHIPPED / name / "pack.yaml").exists()):
        known = ", ".join(p.manifest.name for p in shipped())
        raise NotFound(f"no pack {name!r}; the shipped packs are {known}")
    return load(SHIPPED / name)


def find(name: str) -> Pack:
    """A shipped pack by name, or a pack folder (or its pack.yaml) by path."""
    path = Path(name)
    if (SHIPPED / name / "pack.yaml").exists():
        return load(SHIPPED / name)
    if path.is_dir() or path.name == "pack.yaml":
        return load(path if path.is_dir() else path.parent)
    known = ", ".join(p.manifest.name for p in shipped())
    raise PackError([f"no pack {name!r}: the shipped packs are {known}; or name a pack folder"])


def load(folder: Path) -> Pack:
    source = folder / "pack.yaml"
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as e:
        raise PackError([f"{source}: cannot read: {e.strerror}"]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise PackError([f"{source}: {f'line {mark.line + 1}: ' if mark else ''}invalid YAML: "
                         f"{getattr(e, 'problem', e)}"]) from None
    if not isinstance(data, dict):
        raise PackError([f"{source}: a pack is a mapping with format, name, version, standards and templates"])
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as e:
        raise PackError([f"{source}: {'.'.join(str(x) for x in err['loc']) or '(pack)'}: "
                         f"{err['msg'].removeprefix('Value error, ')}" for err in e.errors()]) from None
    return Pack(manifest, folder)


def enterprise_code(repo: CatalogRepository, ref: str, allowed: frozenset[int] | None = None) -> str:
    """`--org` as a person gives it, an id or a code: the enterprise's code. Outside `allowed`
    (a caller's scope) an org reads as unknown."""
    with Session(repo.engine) as s:
        org = s.scalar(select(Org).where(Org.id == int(ref))) if ref.isdigit() and len(ref) < 10 else None
        org = org or s.scalar(select(Org).where(Org.code == ref))
        if org is None or (allowed is not None and org.id not in allowed):
            raise NotFound(f"org {ref!r}: no such org")
        if org.kind != "enterprise":
            raise PackError([f"org {ref!r}: {org.code} is a {org.kind}; a pack is applied to an enterprise"])
        return org.code


def apply(repo: CatalogRepository, pack: Pack, org: str, params: dict[str, Any], dry_run: bool = False,
          on_change=None, allowed: frozenset[int] | None = None,
          risk: RiskPoints | None = None) -> tuple[Rendered, ApplySummary]:
    """Instantiate `pack` under enterprise `org` (its code): devices, sensors with their tag numbers,
    rules, plans and triggers, created or brought back to the pack's values by code and tag, so
    applying twice changes nothing the second time. A dry run reports what would change."""
    rendered = render(pack.manifest, org, params)
    stored = repo.export()
    _owned_elsewhere(repo, stored, rendered, org, pack.manifest.name, allowed)
    _risk_sources(repo, rendered, org)
    _detector_sensors(stored, rendered, org)
    summary = _write(repo, pack, org, params, rendered.doc, rendered, on_change, dry_run, allowed)
    _assess(repo, risk, org, rendered, pack, dry_run, summary, None)
    return rendered, summary


def _write(repo: CatalogRepository, pack: Pack, org: str, params: dict[str, Any], doc: CatalogDoc,
           base: Rendered, on_change, dry_run: bool, allowed: frozenset[int] | None) -> ApplySummary:
    """Apply `doc` and record the install (the pack's own rendering `base` is what a later upgrade
    merges against, and its detectors what `fit` fits), in one transaction."""
    m = pack.manifest

    def record(session: Session) -> None:
        org_id = session.scalar(select(Org.id).where(Org.code == org))
        row = session.scalar(select(PackInstall).where(PackInstall.org_id == org_id, PackInstall.pack == m.name))
        if row is None:
            row = PackInstall(org_id=org_id, pack=m.name)
            session.add(row)
        row.version, row.params, row.applied_at = m.version, params, time.time_ns() // 1000
        row.rendered = base.doc.model_dump(mode="json") | {
            "detectors": [d.model_dump(mode="json") for d in base.detectors], "layouts": m.layouts.model_dump()}

    try:
        return repo.apply(doc, f"pack {m.name} {m.version}", allowed, on_change=on_change, dry_run=dry_run,
                          also=record)
    except CatalogError as e:
        raise PackError(e.problems) from None


@dataclass
class Upgrade:
    from_version: str
    to_version: str
    summary: ApplySummary
    kept: list[str] = field(default_factory=list)  # local edits kept where the pack did not change the field
    conflicts: list[str] = field(default_factory=list)  # both changed one field: the local value stays
    notes: list[str] = field(default_factory=list)  # items deleted locally, or dropped by the new version


def installed(repo: CatalogRepository, org: str) -> list[dict]:
    """Each pack the enterprise has: version, parameters, its detectors (fitted or not), and its
    dashboard panels and report sections with the tags each shows."""
    with Session(repo.engine) as s:
        rows = s.execute(select(PackInstall, Org.code).join(Org, Org.id == PackInstall.org_id)
                         .where(Org.code == org).order_by(PackInstall.pack)).all()
        fitted = set(s.scalars(select(Unit.code).join(Org, Org.id == Unit.org_id).where(Org.code == org)))
        kinds = dict(s.execute(select(Sensor.tag, Sensor.kind).join(Device, Device.id == Sensor.device_id)
                               .join(Org, Org.id == Device.org_id).where(Org.code == org)).all())
    out = []
    for r, _ in rows:
        mine = [x["tag"] for x in r.rendered.get("sensors", []) if x["tag"] in kinds]  # deleted since: not shown
        layouts = Layouts.model_validate(r.rendered.get("layouts", {}))

        def pick(sel: Selection, mine: list[str] = mine) -> dict:
            return {"title": sel.title, "tags": [t for t in mine if kinds[t] in sel.kinds and sel.match in t]}

        out.append({"pack": r.pack, "version": r.version, "params": r.params, "applied_at": r.applied_at,
                    "detectors": [{"code": d["code"], "name": d["name"], "fitted": d["code"] in fitted}
                                  for d in r.rendered.get("detectors", [])],
                    "dashboard": [pick(p) for p in layouts.dashboard], "report": [pick(x) for x in layouts.report]})
    return out


def upgrade(repo: CatalogRepository, pack: Pack, org: str, params: dict[str, Any] | None = None,
            dry_run: bool = False, on_change=None, allowed: frozenset[int] | None = None,
            risk: RiskPoints | None = None) -> Upgrade:
    """Bring an enterprise's installed pack to `pack`'s version without losing local edits: for
    each field of each item, a value edited locally since the install stays, a value the new
    version changes is taken, and where both changed it the local value stays and the conflict is
    reported. New items are created; items the new version drops, or that were deleted locally,
    are left as they are and reported."""
    with Session(repo.engine) as s:
        row = s.scalar(select(PackInstall).join(Org, Org.id == PackInstall.org_id)
                       .where(Org.code == org, PackInstall.pack == pack.manifest.name))
        if row is None:
            raise PackError([f"{pack.manifest.name} is not installed on {org}: apply it first"])
        old_version, old_params, base_data = row.version, row.params, row.rendered
    params = old_params if params is None else params
    new = render(pack.manifest, org, params)
    local = repo.export()
    _owned_elsewhere(repo, local, new, org, pack.manifest.name, allowed, hand_made_ok=True)  # kept, reported
    _risk_sources(repo, new, org)
    _detector_sensors(local, new, org)
    base_detectors = {d["code"]: d for d in base_data.get("detectors", [])}
    base = CatalogDoc.model_validate({k: v for k, v in base_data.items() if k not in ("detectors", "layouts")})
    out = Upgrade(old_version, pack.manifest.version, ApplySummary())
    merged: dict[str, list] = {}
    for section, key in KEY.items():
        b = {getattr(x, key): x.model_dump(mode="json") for x in getattr(base, section)}
        here = {getattr(x, key): x.model_dump(mode="json") for x in getattr(local, section)}
        kept = {getattr(x, key) for x in getattr(new.doc, section)}
        items = []
        for item in getattr(new.doc, section):
            k, n = getattr(item, key), item.model_dump(mode="json")
            if k not in b:
                if k in here:
                    out.conflicts.append(f"{section} {k}: new in {pack.manifest.version} but already made by "
                                         "hand; kept as it is")
                    continue
                items.append(n)
            elif k not in here:
                out.notes.append(f"{section} {k}: deleted here since the install; not made again")
            else:
                items.append(_merge(f"{section} {k}", b[k], here[k], n, out))
        out.notes += [f"{section} {k}: no longer in {pack.manifest.name} {pack.manifest.version}; kept"
                      for k in b if k not in kept]
        merged[section] = items
    units = {u.code for u in local.units if u.org == org}
    for d in new.detectors:  # a unit keeps the model it was fitted with; the pack only says when to refit
        was = base_detectors.get(d.code)
        if was is None:
            out.notes.append(f"detectors {d.code}: new in {pack.manifest.version}; fit it with `hazwatch pack fit "
                             f"{pack.manifest.name} --org {org}`")
        elif was != d.model_dump(mode="json") and d.code in units:
            out.notes.append(f"detectors {d.code}: its definition changed; the unit keeps its fitted model until "
                             "it is fitted again")
    try:
        doc = CatalogDoc.model_validate(merged)
    except ValueError as e:
        raise PackError([f"the merged items do not validate: {e}"]) from None
    out.summary = _write(repo, pack, org, params, doc, new, on_change, dry_run, allowed)
    _assess(repo, risk, org, new, pack, dry_run, out.summary, out.notes)
    return out


def _detector_sensors(stored: CatalogDoc, rendered: Rendered, org: str) -> None:
    """A detector's columns are sensors of this enterprise: the pack's own or ones it already has,
    and its hazard source likewise; found wanting at apply, not at the first fit."""
    device_org = {d.code: d.org for d in stored.devices}
    tags = {x.tag for x in stored.sensors if device_org.get(x.device) == org} | {x.tag for x in rendered.doc.sensors}
    sources = {h.code for h in stored.hazard_sources if h.org == org} | {h.code for h in rendered.doc.hazard_sources}
    problems = [f"detectors: {d.code!r}: {tag!r} is not a sensor of {org} or of the pack"
                for d in rendered.detectors for tag in d.columns if tag not in tags]
    problems += [f"detectors: {d.code!r}: unknown hazard source {d.hazard_source!r} of {org}"
                 for d in rendered.detectors if d.hazard_source is not None and d.hazard_source not in sources]
    problems += [f"detectors: {u.code!r} is already a unit of another enterprise"
                 for u in stored.units for d in rendered.detectors if u.code == d.code and u.org != org]
    if problems:
        raise PackError(problems)


def _risk_sources(repo: CatalogRepository, rendered: Rendered, org: str) -> None:
    """Every risk point's hazard source is the pack's own or one the enterprise already has."""
    with Session(repo.engine) as s:
        mine = set(s.scalars(select(HazardSource.code).join(Org, Org.id == HazardSource.org_id)
                             .where(Org.code == org)))
    mine |= {h.code for h in rendered.doc.hazard_sources}
    unknown = [f"risk_points: {p.name!r}: unknown hazard source {p.hazard_source!r} of {org}"
               for p in rendered.risk_points if p.hazard_source is not None and p.hazard_source not in mine]
    if unknown:
        raise PackError(unknown)


def _assess(repo: CatalogRepository, risk: RiskPoints | None, org: str, rendered: Rendered, pack: Pack,
            dry_run: bool, summary: ApplySummary, keep: list[str] | None) -> None:
    """The pack's risk points into the enterprise's register, matched by name. An apply sets a
    point back to the pack's assessment; an upgrade (`keep` given) adds the points that are new and
    leaves a point assessed here as it is, noting where the pack's differs."""
    if not rendered.risk_points:
        return
    risk = risk or RiskPoints(repo.engine, SystemClock())
    with Session(repo.engine) as s:
        org_id = s.scalar(select(Org.id).where(Org.code == org))
        sources = {code: id_ for code, id_ in s.execute(select(HazardSource.code, HazardSource.id))}
    have = {p["name"]: p for p in risk.list(frozenset({org_id}))}
    who = f"pack {pack.manifest.name} {pack.manifest.version}"
    for point in rendered.risk_points:
        hs = sources.get(point.hazard_source) if point.hazard_source else None
        mine = have.get(point.name)
        same = mine is not None and all(mine[k] == getattr(point, k) for k in ("method", "l", "e", "c", "s",
                                                                               "measures", "location"))
        same = same and mine["hazard_source_id"] == hs
        if same:
            counter = summary.unchanged
        elif mine is not None and keep is not None:
            keep.append(f"risk point {point.name!r}: assessed here ({mine['explanation']}); the pack's "
                        f"assessment is not applied")
            counter = summary.unchanged
        else:
            if not dry_run:
                factors = {"l": point.l, "e": point.e, "c": point.c, "s": point.s}
                risk.assess(org_id, hs, point.location, point.name, point.method, factors, point.measures, who)
            counter = summary.created if mine is None else summary.updated
        counter["risk_points"] = counter.get("risk_points", 0) + 1


def _merge(what: str, base: dict, local: dict, new: dict, out: Upgrade) -> dict:
    merged = {}
    for f in new.keys() | local.keys():
        b, lo, n = base.get(f), local.get(f), new.get(f)
        if lo in (b, n):  # not edited here, or edited to what the pack now says
            merged[f] = n
        elif n == b:
            merged[f] = lo
            out.kept.append(f"{what}.{f}: {lo!r} kept (the pack has {b!r})")
        else:
            merged[f] = lo
            out.conflicts.append(f"{what}.{f}: changed here to {lo!r} and by the pack from {b!r} to {n!r}; "
                                 f"{lo!r} kept")
    return merged


def _owned_elsewhere(repo: CatalogRepository, stored: CatalogDoc, rendered: Rendered, org: str, pack: str,
                     allowed: frozenset[int] | None = None, hand_made_ok: bool = False) -> None:
    """Upserting by tag and code would move another enterprise's sensor, device or rule under
    this one, or take over what another pack, or a person, made here; a pack never does that: it
    stops and names the clash. What this pack made before is its own to set again; an upgrade
    (`hand_made_ok`) keeps what a person made and reports it instead."""
    with Session(repo.engine) as s:
        installs = s.execute(select(PackInstall.pack, PackInstall.rendered).join(Org, Org.id == PackInstall.org_id)
                             .where(Org.code == org)).all()
    made = {(section, x[key]): other for other, doc in installs for section, key in KEY.items()
            for x in doc.get(section, [])}
    device_org = {d.code: d.org for d in stored.devices}
    owners = {("sensors", x.tag): device_org.get(x.device) for x in stored.sensors}
    owners |= {("devices", x.code): x.org for x in stored.devices}
    owners |= {(section, x.code): x.org for section in ("hazard_sources", "rules", "plans", "incident_triggers")
               for x in getattr(stored, section)}
    problems = []
    for section, attr in KEY.items():
        for x in getattr(rendered.doc, section):
            key = getattr(x, attr)
            owner = owners.get((section, key))
            if owner is not None and owner != org:
                whose = "another enterprise" if allowed is not None else owner  # a scoped caller learns no names
                problems.append(f"{section}: {key!r} already belongs to {whose}; give this enterprise other "
                                "numbers (the pack's tag_prefix or its list parameters)")
            elif made.get((section, key), pack) != pack:
                problems.append(f"{section}: {key!r} was made here by the {made[(section, key)]} pack; give this "
                                "pack other numbers (its tag_prefix or its list parameters)")
            elif owner == org and (section, key) not in made and not hand_made_ok:
                problems.append(f"{section}: {key!r} already exists in {org} and was not made by this pack; give "
                                "the pack other numbers (its tag_prefix or its list parameters)")
    if problems:
        raise PackError(problems)
