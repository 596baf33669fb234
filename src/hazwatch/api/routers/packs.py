"""Application packs over HTTP: the shipped packs, and applying or upgrading one for an enterprise
in your scope (`hazwatch pack` does the same from the command line)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from hazwatch.api.deps import AccessDep, needs
from hazwatch.api.timeparse import parse_time
from hazwatch.auth.roles import CATALOG_WRITE, READ
from hazwatch.packs import shipped, shipped_pack
from hazwatch.packs.manifest import Layouts, Parameter, Standard

router = APIRouter(tags=["packs"])
Name = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64, description="the pack's name")]


class PackOut(BaseModel):
    name: str
    version: str
    title: str
    industry: str
    description: str
    standards: list[Standard]
    parameters: list[Parameter]


class PackList(BaseModel):
    items: list[PackOut]
    count: int


class PackDetail(PackOut):
    readme: str = Field(description="what the pack creates and the sources of its numbers (Markdown)")
    layouts: Layouts


class PackApplyIn(BaseModel):
    org: str = Field(min_length=1, max_length=64, description="the enterprise: its code or its id")
    params: dict[str, Any] = Field({}, description="the pack's parameters; the rest take their defaults")
    dry_run: bool = Field(False, description="report what would change and change nothing")


class PackUpgradeIn(BaseModel):
    org: str = Field(min_length=1, max_length=64, description="the enterprise: its code or its id")
    params: dict[str, Any] | None = Field(None, description="new parameters; omitted: those of the install")
    dry_run: bool = False


class PackApplyOut(BaseModel):
    pack: str
    version: str
    org: str
    dry_run: bool
    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]


class PackUpgradeOut(PackApplyOut):
    from_version: str
    kept: list[str] = Field(description="local edits kept where the pack did not change the value")
    conflicts: list[str] = Field(description="values changed both here and by the pack: the local value stays")
    notes: list[str] = Field(description="items deleted here or dropped by the new version, left alone")


class DetectorState(BaseModel):
    code: str = Field(description="the unit's code once fitted")
    name: str
    fitted: bool = Field(description="the enterprise has the unit (fitted by `POST /packs/{name}/fit`)")


class Shown(BaseModel):
    title: str
    tags: list[str] = Field(description="the install's sensors the panel or section shows")


class InstallOut(BaseModel):
    pack: str
    version: str
    params: dict[str, Any]
    applied_at: int = Field(description="µs since the Unix epoch")
    detectors: list[DetectorState] = Field(description="the pack's multivariate detectors, and whether each is "
                                                       "fitted")
    dashboard: list[Shown] = Field(description="the pack's console panels (console: Packs)")
    report: list[Shown] = Field(description="the sections the pack adds to the enterprise's periodic reports")


class PackFitIn(BaseModel):
    org: str = Field(min_length=1, max_length=64, description="the enterprise: its code or its id")
    since: str | None = Field(None, description="start of the normal running to fit on: ISO 8601 or epoch "
                                                "seconds; omitted: each detector's fit_hours before `until`")
    until: str | None = Field(None, description="end of that window; omitted: now")
    detectors: list[str] = Field([], description="the detectors (unit codes) to fit; empty: all of the pack's")
    dry_run: bool = Field(False, description="fit and report, store nothing")


class FittedOut(BaseModel):
    code: str
    name: str
    columns: list[str]
    method: str
    rows: int = Field(description="rows the model was fitted on")
    threshold: float
    since: int = Field(description="the window fitted on, µs since the Unix epoch")
    until: int


class PackFitOut(BaseModel):
    pack: str
    org: str
    dry_run: bool
    fitted: list[FittedOut]
    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]


class InstallList(BaseModel):
    org: str
    items: list[InstallOut]


def _counts(summary) -> dict:
    """What a catalog change created, updated and left as it was, per section."""
    return {"created": summary.created, "updated": summary.updated, "unchanged": summary.unchanged}


def _out(p) -> dict:
    m = p.manifest
    return {"name": m.name, "version": m.version, "title": m.title, "industry": m.industry,
            "description": m.description.strip(), "standards": m.standards, "parameters": m.parameters}


@router.get("/packs", response_model=PackList, summary="The application packs shipped with Hazwatch",
            openapi_extra=needs(READ))
def list_packs(access: AccessDep) -> PackList:
    items = [PackOut(**_out(p)) for p in shipped()]
    return PackList(items=items, count=len(items))


@router.get("/packs/installs", response_model=InstallList, summary="The packs an enterprise in your scope has",
            responses={404: {"description": "no such enterprise in your scope"}}, openapi_extra=needs(READ))
def installs(access: AccessDep, org: Annotated[str, Query(min_length=1, max_length=64,
                                                          description="the enterprise: code or id")]) -> InstallList:
    code, rows = access.packs.installed(org)
    return InstallList(org=code, items=[InstallOut(**r) for r in rows])


@router.get("/packs/{name}", response_model=PackDetail, summary="One pack: standards, parameters, sources",
            responses={404: {"description": "no such pack"}}, openapi_extra=needs(READ))
def get_pack(name: Name, access: AccessDep) -> PackDetail:
    p = shipped_pack(name)
    return PackDetail(**_out(p), readme=p.readme, layouts=p.manifest.layouts)


@router.post("/packs/{name}/apply", response_model=PackApplyOut,
             summary="Create a pack's devices, sensors, rules, plans and triggers under an enterprise",
             description="All or nothing, like `POST /catalog`: bad parameters or items that clash answer 422 "
                         "with `problems`. Applying again changes nothing; an item edited since is set back to "
                         "the pack's values (use `upgrade` to keep local edits). Every change goes to the audit "
                         "log.",
             responses={404: {"description": "no such pack, or no such enterprise in your scope"},
                        422: {"description": "refused; `problems` lists why"}},
             openapi_extra=needs(CATALOG_WRITE))
def apply_pack(name: Name, body: PackApplyIn, access: AccessDep) -> PackApplyOut:
    pack, code, s = access.packs.apply(name, body.org, body.params, body.dry_run)
    return PackApplyOut(pack=pack.manifest.name, version=pack.manifest.version, org=code, dry_run=body.dry_run,
                        **_counts(s))


@router.post("/packs/{name}/upgrade", response_model=PackUpgradeOut,
             summary="Bring an enterprise's installed pack to the shipped version, keeping local edits",
             description="Field by field: a value edited locally since the install stays, a value the new "
                         "version changes is taken, and a value both changed keeps the local edit and is listed "
                         "in `conflicts`.",
             responses={404: {"description": "no such pack, or no such enterprise in your scope"},
                        422: {"description": "not installed, or refused; `problems` lists why"}},
             openapi_extra=needs(CATALOG_WRITE))
def upgrade_pack(name: Name, body: PackUpgradeIn, access: AccessDep) -> PackUpgradeOut:
    code, r = access.packs.upgrade(name, body.org, body.params, body.dry_run)
    return PackUpgradeOut(pack=name, version=r.to_version, org=code, dry_run=body.dry_run, **_counts(r.summary),
                          from_version=r.from_version, kept=r.kept, conflicts=r.conflicts, notes=r.notes)


@router.post("/packs/{name}/fit", response_model=PackFitOut,
             summary="Fit an installed pack's multivariate detectors on the enterprise's stored history",
             description="Each detector is fitted on the readings of its sensors in the window (which should be "
                         "normal running), with rows built as the live engine builds them, and stored as a unit "
                         "that is watched from then on. All or nothing: a detector that cannot be fitted (too "
                         "few readings, a sensor without data) answers 422 naming it, and nothing is stored.",
             responses={404: {"description": "no such pack, or no such enterprise in your scope"},
                        422: {"description": "not installed, or a detector could not be fitted; `problems` "
                                             "lists why"}},
             openapi_extra=needs(CATALOG_WRITE))
def fit_pack(name: Name, body: PackFitIn, access: AccessDep) -> PackFitOut:
    since = parse_time(body.since, "since") if body.since else None
    until = parse_time(body.until, "until") if body.until else None
    code, fitted, s = access.packs.fit(name, body.org, since, until, body.detectors, body.dry_run)
    return PackFitOut(pack=name, org=code, dry_run=body.dry_run, fitted=[FittedOut(**vars(f)) for f in fitted],
                      **_counts(s))
