"""The org tree in scope (region ▸ park ▸ enterprise), and new orgs below it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from hazwatch.api.deps import AccessDep, needs
from hazwatch.auth.roles import ORGS_WRITE, READ

router = APIRouter(tags=["orgs"])


class OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["region", "park", "enterprise"]
    parent: int | None = Field(None, ge=1, le=2**31 - 1,
                               description="id of the org above; only unscoped admins create top-level regions")
    code: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
                             description="catalog code; generated when omitted")


class OrgOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    parent: int | None


class OrgList(BaseModel):
    items: list[OrgOut]
    count: int


@router.get("/orgs", response_model=OrgList, summary="The org tree in your scope", openapi_extra=needs(READ))
def list_orgs(access: AccessDep) -> OrgList:
    items = access.orgs()
    return OrgList(items=[OrgOut(**o) for o in items], count=len(items))


@router.get("/orgs/{org_id}", response_model=OrgOut, summary="One org", openapi_extra=needs(READ))
def get_org(org_id: Annotated[int, Path(ge=1, le=2**31 - 1)], access: AccessDep) -> OrgOut:
    return OrgOut(**access.org(org_id))


@router.post("/orgs", response_model=OrgOut, status_code=201, summary="Create an org below one in your scope",
             description="A park goes below a region, an enterprise below a park (or a region).",
             openapi_extra=needs(ORGS_WRITE))
def create_org(body: OrgIn, access: AccessDep) -> OrgOut:
    return OrgOut(**access.create_org(body.name, body.kind, body.parent, body.code))
