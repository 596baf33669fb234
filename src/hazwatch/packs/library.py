"""Where packs come from: the ones shipped with Hazwatch (`hazwatch/packs/data/<name>/`) or a
folder a user names, and applying one to an enterprise through the catalog."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.models import Org
from hazwatch.catalog.repository import ApplySummary, CatalogRepository
from hazwatch.packs.manifest import Manifest, PackError
from hazwatch.packs.render import Rendered, render

SHIPPED = Path(__file__).parent / "data"


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


def enterprise_code(repo: CatalogRepository, ref: str) -> str:
    """`--org` as a person gives it, an id or a code: the enterprise's code."""
    with Session(repo.engine) as s:
        org = s.scalar(select(Org).where(Org.id == int(ref))) if ref.isdigit() else None
        org = org or s.scalar(select(Org).where(Org.code == ref))
        if org is None:
            raise PackError([f"org {ref!r}: no such org"])
        if org.kind != "enterprise":
            raise PackError([f"org {ref!r}: {org.code} is a {org.kind}; a pack is applied to an enterprise"])
        return org.code


def apply(repo: CatalogRepository, pack: Pack, org: str, params: dict[str, Any], dry_run: bool = False,
          on_change=None) -> tuple[Rendered, ApplySummary]:
    """Instantiate `pack` under enterprise `org` (its code): devices, sensors with their tag numbers,
    rules, plans and triggers, created or brought back to the pack's values by code and tag, so
    applying twice changes nothing the second time. A dry run reports what would change."""
    rendered = render(pack.manifest, org, params)
    _owned_elsewhere(repo, rendered, org)
    source = f"pack {pack.manifest.name} {pack.manifest.version}"
    try:
        summary = repo.apply(rendered.doc, source, on_change=on_change, dry_run=dry_run)
    except CatalogError as e:
        raise PackError(e.problems) from None
    return rendered, summary


def _owned_elsewhere(repo: CatalogRepository, rendered: Rendered, org: str) -> None:
    """Upserting by tag and code would move another enterprise's sensor, device or rule under
    this one; a pack never does that: it stops and names the clash."""
    stored = repo.export()
    device_org = {d.code: d.org for d in stored.devices}
    owners = {("sensors", x.tag): device_org.get(x.device) for x in stored.sensors}
    owners |= {("devices", x.code): x.org for x in stored.devices}
    owners |= {(section, x.code): x.org for section in ("hazard_sources", "rules", "plans", "incident_triggers")
               for x in getattr(stored, section)}
    problems = []
    for section in ("hazard_sources", "devices", "sensors", "rules", "plans", "incident_triggers"):
        for x in getattr(rendered.doc, section):
            key = x.tag if section == "sensors" else x.code
            owner = owners.get((section, key))
            if owner is not None and owner != org:
                problems.append(f"{section}: {key!r} already belongs to {owner}; give this enterprise other "
                                "numbers (the pack's tag_prefix or its list parameters)")
    if problems:
        raise PackError(problems)
