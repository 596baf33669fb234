"""The audit log in scope, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from hazwatch.api.deps import AccessDep, needs
from hazwatch.api.timeparse import parse_time
from hazwatch.auth.roles import AUDIT_READ

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    id: int
    ts: str
    actor: str
    actor_role: str
    org_id: int | None
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    remote: str | None


class AuditList(BaseModel):
    items: list[AuditOut]
    count: int


@router.get("/audit", response_model=AuditList, summary="Who changed what, when, from what to what",
            description="Every write to users, credentials, the catalog and alarm states, and every failed login. "
                        "Entries are append-only; the database refuses to change or delete them.",
            openapi_extra=needs(AUDIT_READ))
def audit(access: AccessDep,
          action: str | None = Query(None, max_length=60, description="e.g. alarm.ack, user.create"),
          actor: str | None = Query(None, max_length=100),
          object_type: str | None = Query(None, max_length=40),
          since: str | None = Query(None, description="ISO 8601 or epoch seconds"),
          until: str | None = Query(None, description="ISO 8601 or epoch seconds"),
          limit: int = Query(1000, ge=1, le=10_000)) -> AuditList:
    items = access.accounts.audit(action=action, actor=actor, object_type=object_type,
                         since_us=parse_time(since, "since") if since else None,
                         until_us=parse_time(until, "until") if until else None, limit=limit)
    return AuditList(items=[AuditOut(**i) for i in items], count=len(items))
