"""The catalog in scope as one exchange document (the same JSON Schema as `hazwatch catalog`)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from hazwatch.api.deps import AccessDep, needs
from hazwatch.auth.roles import CATALOG_WRITE, READ
from hazwatch.catalog.schema import CatalogDoc

router = APIRouter(tags=["catalog"])


class ApplyOut(BaseModel):
    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]
    revision: int


@router.get("/catalog", response_model=CatalogDoc, response_model_exclude_none=True,
            summary="Export the catalog in your scope", openapi_extra=needs(READ))
def export(access: AccessDep) -> CatalogDoc:
    return access.export_catalog()


@router.post("/catalog", response_model=ApplyOut, summary="Create or update catalog items in your scope",
             description="All or nothing: any problem refuses the whole document (422 with `problems`, each "
                         "naming the path). Items are matched by code (tag for sensors). Objects outside your "
                         "scope read as unknown; codes taken outside it as not available. Every created or "
                         "changed item goes to the audit log with its before and after.",
             responses={422: {"description": "the document was refused; `problems` lists why"}},
             openapi_extra=needs(CATALOG_WRITE))
def apply(doc: CatalogDoc, access: AccessDep) -> ApplyOut:
    s = access.apply_catalog(doc, "request")
    return ApplyOut(created=s.created, updated=s.updated, unchanged=s.unchanged, revision=s.revision)
