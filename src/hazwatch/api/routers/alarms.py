"""The alarm console's API: list, journal, and the operator's commands (ISA-18.2)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from hazwatch.alarms import AlarmCommandError, public
from hazwatch.api.deps import CurrentUser, ScopeDep, ServicesDep
from hazwatch.api.responses import JSON

router = APIRouter(tags=["alarms"])
AlarmId = Annotated[int, Path(description="alarm id")]


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=2000)


class ShelveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: float = Field(gt=0, description="how long the alarm stays shelved; it returns by itself")
    reason: str = Field(min_length=1, max_length=2000)


class CommentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=2000)


def _check(services, scope, alarm_id: int):
    p = services.alarm_queries.get(alarm_id)
    info = services.index.info.get(p.sensor_id) if p else None
    if p is None or info is None or not scope.allows(int(services.index.org_id[p.sensor_id])):
        raise HTTPException(404, f"alarm {alarm_id} not found")
    return p


@router.get("/alarms", summary="Alarms in scope, highest priority and newest first")
def list_alarms(services: ServicesDep, scope: ScopeDep, user: CurrentUser,
                state: Literal["active", "unacknowledged", "shelved", "suppressed", "out_of_service", "all"] =
                Query("active")) -> JSON:
    idx = services.index
    items = [public(p, idx) for p in services.alarm_queries.list(state)
             if p.sensor_id < idx.size and scope.allows(int(idx.org_id[p.sensor_id]))]
    return JSON({"items": items, "count": len(items)})


@router.get("/alarms/{alarm_id}", summary="One alarm")
def get_alarm(alarm_id: AlarmId, services: ServicesDep, scope: ScopeDep, user: CurrentUser) -> JSON:
    return JSON(public(_check(services, scope, alarm_id), services.index))


@router.get("/alarms/{alarm_id}/journal", summary="Every transition of the alarm, oldest first")
def journal(alarm_id: AlarmId, services: ServicesDep, scope: ScopeDep, user: CurrentUser) -> JSON:
    _check(services, scope, alarm_id)
    items = services.alarm_queries.journal(alarm_id)
    return JSON({"items": items, "count": len(items)})


async def _command(services, scope, user, alarm_id: int, action: str, comment: str | None = None,
                   minutes: float | None = None) -> JSON:
    _check(services, scope, alarm_id)
    fut = services.pipeline.alarm_command(alarm_id, action, user.name, comment, minutes,
                                          services.settings.max_shelve_minutes)
    try:
        return JSON(await asyncio.wrap_future(fut))
    except AlarmCommandError as e:
        raise HTTPException(e.status, e.message) from None


@router.post("/alarms/{alarm_id}/ack", summary="Acknowledge")
async def ack(alarm_id: AlarmId, body: AckBody, services: ServicesDep, scope: ScopeDep,
              user: CurrentUser) -> JSON:
    return await _command(services, scope, user, alarm_id, "ack", body.comment)


@router.post("/alarms/{alarm_id}/shelve", summary="Shelve for a bounded time")
async def shelve(alarm_id: AlarmId, body: ShelveBody, services: ServicesDep, scope: ScopeDep,
                 user: CurrentUser) -> JSON:
    return await _command(services, scope, user, alarm_id, "shelve", body.reason, body.minutes)


@router.post("/alarms/{alarm_id}/unshelve", summary="Return a shelved alarm to the console")
async def unshelve(alarm_id: AlarmId, services: ServicesDep, scope: ScopeDep, user: CurrentUser,
                   body: CommentBody | None = None) -> JSON:
    return await _command(services, scope, user, alarm_id, "unshelve", body.comment if body else None)


@router.post("/alarms/{alarm_id}/suppress", summary="Suppress by design (engineering decision)")
async def suppress(alarm_id: AlarmId, body: CommentBody, services: ServicesDep, scope: ScopeDep,
                   user: CurrentUser) -> JSON:
    return await _command(services, scope, user, alarm_id, "suppress", body.comment)


@router.post("/alarms/{alarm_id}/unsuppress", summary="End suppression by design")
async def unsuppress(alarm_id: AlarmId, body: CommentBody, services: ServicesDep, scope: ScopeDep,
                     user: CurrentUser) -> JSON:
    return await _command(services, scope, user, alarm_id, "unsuppress", body.comment)


@router.post("/alarms/{alarm_id}/out-of-service", summary="Remove from service (maintenance)")
async def out_of_service(alarm_id: AlarmId, body: CommentBody, services: ServicesDep, scope: ScopeDep,
                         user: CurrentUser) -> JSON:
    return await _command(services, scope, user, alarm_id, "remove_from_service", body.comment)


@router.post("/alarms/{alarm_id}/in-service", summary="Return to service")
async def in_service(alarm_id: AlarmId, body: CommentBody, services: ServicesDep, scope: ScopeDep,
                     user: CurrentUser) -> JSON:
    return await _command(services, scope, user, alarm_id, "return_to_service", body.comment)
