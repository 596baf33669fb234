"""The alarm console's API: list, journal, and the operator's commands (ISA-18.2)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from hazwatch.api.deps import AccessDep, needs
from hazwatch.api.responses import JSON
from hazwatch.auth.roles import ALARM_ENGINEER, ALARM_OPERATE, ANNOTATE, READ

router = APIRouter(tags=["alarms"])
AlarmId = Annotated[int, Path(description="alarm id", ge=1, le=2**31 - 1)]


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


class AnnotationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)


@router.get("/alarms", summary="Alarms in scope, highest priority and newest first", openapi_extra=needs(READ))
def list_alarms(access: AccessDep,
                state: Literal["active", "unacknowledged", "shelved", "suppressed", "out_of_service", "all"] =
                Query("active")) -> JSON:
    items = access.alarms(state)
    return JSON({"items": items, "count": len(items)})


@router.get("/alarms/{alarm_id}", summary="One alarm", openapi_extra=needs(READ))
def get_alarm(alarm_id: AlarmId, access: AccessDep) -> JSON:
    return JSON(access.alarm(alarm_id))


@router.get("/alarms/{alarm_id}/journal", summary="Every transition of the alarm, oldest first",
            openapi_extra=needs(READ))
def journal(alarm_id: AlarmId, access: AccessDep) -> JSON:
    items = access.journal(alarm_id)
    return JSON({"items": items, "count": len(items)})


@router.post("/alarms/{alarm_id}/ack", summary="Acknowledge", openapi_extra=needs(ALARM_OPERATE))
async def ack(alarm_id: AlarmId, body: AckBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "ack", body.comment))


@router.post("/alarms/{alarm_id}/shelve", summary="Shelve for a bounded time", openapi_extra=needs(ALARM_OPERATE))
async def shelve(alarm_id: AlarmId, body: ShelveBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "shelve", body.reason, body.minutes))


@router.post("/alarms/{alarm_id}/unshelve", summary="Return a shelved alarm to the console",
             openapi_extra=needs(ALARM_OPERATE))
async def unshelve(alarm_id: AlarmId, access: AccessDep, body: CommentBody | None = None) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "unshelve", body.comment if body else None))


@router.post("/alarms/{alarm_id}/suppress", summary="Suppress by design (engineering decision)",
             openapi_extra=needs(ALARM_ENGINEER))
async def suppress(alarm_id: AlarmId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "suppress", body.comment))


@router.post("/alarms/{alarm_id}/unsuppress", summary="End suppression by design",
             openapi_extra=needs(ALARM_ENGINEER))
async def unsuppress(alarm_id: AlarmId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "unsuppress", body.comment))


@router.post("/alarms/{alarm_id}/out-of-service", summary="Remove from service (maintenance)",
             openapi_extra=needs(ALARM_ENGINEER))
async def out_of_service(alarm_id: AlarmId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "remove_from_service", body.comment))


@router.post("/alarms/{alarm_id}/in-service", summary="Return to service", openapi_extra=needs(ALARM_ENGINEER))
async def in_service(alarm_id: AlarmId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "return_to_service", body.comment))


@router.post("/alarms/{alarm_id}/comments", summary="Annotate: a comment in the alarm's journal",
             description="Regulators, operators and administrators leave notes on an alarm; the note goes into "
                         "the journal (event `commented`) and the audit log, and changes no state.",
             openapi_extra=needs(ANNOTATE))
async def annotate(alarm_id: AlarmId, body: AnnotationBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "comment", body.text))
