"""The installation's own state: protocol adapters and their health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from hazwatch.api.deps import AccessDep, needs
from hazwatch.auth.roles import SYSTEM_READ

router = APIRouter(tags=["system"])


class AdapterHealth(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    state: str
    detail: str


class AdapterList(BaseModel):
    items: list[AdapterHealth]
    count: int


@router.get("/adapters", response_model=AdapterList, summary="Protocol adapters and their health",
            description="One entry per running adapter (MQTT, OPC UA, Modbus): state (running, degraded, "
                        "stopped), why it is degraded, and counters (messages, readings accepted and rejected, "
                        "rejections by kind, backlog). Counters only: no tenant's data.",
            openapi_extra=needs(SYSTEM_READ))
def adapters(access: AccessDep) -> Any:
    items = [a.health().as_dict() for a in access.services.adapters]
    return {"items": items, "count": len(items)}
