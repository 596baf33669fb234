"""The installation's own state: protocol adapters and their health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict

from hazwatch.api.deps import AccessDep, needs
from hazwatch.auth.roles import SYSTEM_READ

router = APIRouter(tags=["system"])
public = APIRouter(tags=["system"])  # at the root, where Prometheus looks


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
    items = access.adapters_health()
    return {"items": items, "count": len(items)}


@public.get("/metrics", summary="Prometheus metrics of this process",
            description="Readings accepted and rejected, group commits, evaluation latency, alarm transitions by "
                        "event, the writer's queue, the ledger's size; plus the process's own (memory, CPU). "
                        "Counters only: no tenant's data. Scrape with an API key of a role that has `system:read`.",
            response_class=PlainTextResponse, openapi_extra=needs(SYSTEM_READ),
            responses={200: {"content": {"text/plain": {}}}})
def prometheus(access: AccessDep) -> Response:
    access.refresh_gauges()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
