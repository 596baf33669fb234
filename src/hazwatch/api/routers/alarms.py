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


class AlarmOut(BaseModel):
    id: int
    sensor: str | None = Field(description="tag of the sensor; null for a device's communication-loss alarm and "
                                           "a unit's anomaly alarm")
    sensor_name: str | None
    device: str | None = Field(description="device code")
    enterprise: str | None
    condition: Literal["LL", "L", "H", "HH", "COMM", "STALE", "FLAT", "RANGE", "ANOM", "ROC", "TREND", "RULE"] = Field(
        description="LL/L/H/HH: process limits; COMM: the device stopped communicating; sensor faults: STALE (no "
                    "reading for too long), FLAT (a stuck value), RANGE (values outside the instrument's range); "
                    "ANOM: a unit's multivariate detector scores its sensors as a whole above its threshold; "
                    "ROC: the value changes faster than its rate limit; TREND: early warning, the trend is "
                    "predicted to cross H or L within the sensor's horizon (the journal says when); RULE: a "
                    "compound rule of the catalog is true (the journal says which inputs made it so)")
    priority: Literal["low", "medium", "high", "urgent"]
    state: str = Field(description="ISA-18.2 state, e.g. active_unacknowledged, shelved, out_of_service")
    active: bool
    acknowledged: bool
    raised_at: str | None = Field(description="ISO 8601, UTC")
    cleared_at: str | None
    value: float | None
    unit: str | None
    limit: float | None
    shelved_until: str | None
    suppressed: bool
    out_of_service: bool
    process_unit: str | None = Field(None, description="code of the unit whose detector raised an ANOM alarm")
    rule: str | None = Field(None, description="code of the compound rule behind a RULE alarm")
    suppression: Literal["operator", "chatter", "state"] | None = Field(
        None, description="why a suppressed alarm is suppressed: by an engineer, automatically for chattering "
                          "(until suppressed_until), or by its sensor's state condition")
    suppressed_until: str | None = Field(None, description="when an automatic suppression ends")
    chattering: bool = Field(False, description="raised again and again within the chatter window")
    first_out: int | None = Field(None, description="the id of the first alarm of its group, which stands for "
                                                    "this one (first-out grouping)")


class AlarmList(BaseModel):
    items: list[AlarmOut]
    count: int


class JournalEntry(BaseModel):
    id: int
    ts: str | None = Field(description="when it happened (the reading's time for process events)")
    recorded_at: str | None
    event: str
    actor: str
    comment: str | None
    value: float | None
    state: str = Field(description="the alarm's state after the event")


class Journal(BaseModel):
    items: list[JournalEntry]
    count: int


def command(path: str, summary: str, permission: str, **kw):
    """An operator command: POST, answers the alarm as it is afterwards."""
    return router.post(path, response_model=AlarmOut, summary=summary, openapi_extra=needs(permission), **kw)


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


@router.get("/alarms", summary="Alarms in scope, highest priority and newest first", response_model=AlarmList,
            openapi_extra=needs(READ))
def list_alarms(access: AccessDep,
                state: Literal["active", "unacknowledged", "shelved", "suppressed", "out_of_service", "all"] =
                Query("active"),
                grouped: bool = Query(False, description="leave out alarms whose first-out alarm is in the list: "
                                                         "the first alarm stands for its consequences")) -> JSON:
    items = access.alarms(state)
    if grouped:
        shown = {a["id"] for a in items}
        items = [a for a in items if a["first_out"] not in shown]
    return JSON({"items": items, "count": len(items)})


class FloodOut(BaseModel):
    id: int
    enterprise: str | None = Field(description="the area: the enterprise whose console flooded")
    active: bool
    started_at: str | None
    ended_at: str | None
    alarms: int = Field(description="alarms raised during the flood")
    peak: int = Field(description="most alarms within one flood window")


class FloodList(BaseModel):
    items: list[FloodOut]
    count: int


@router.get("/floods", summary="Alarm floods in scope, the ongoing first, then newest", response_model=FloodList,
            openapi_extra=needs(READ))
def list_floods(access: AccessDep, active: bool = Query(False, description="only floods still going on")) -> JSON:
    items = [f for f in access.floods() if f["active"] or not active]
    return JSON({"items": items, "count": len(items)})


@router.get("/alarms/{alarm_id}", summary="One alarm", response_model=AlarmOut, openapi_extra=needs(READ))
def get_alarm(alarm_id: AlarmId, access: AccessDep) -> JSON:
    return JSON(access.alarm(alarm_id))


@router.get("/alarms/{alarm_id}/journal", summary="Every transition of the alarm, oldest first",
            response_model=Journal, openapi_extra=needs(READ))
def journal(alarm_id: AlarmId, access: AccessDep) -> JSON:
    items = access.journal(alarm_id)
    return JSON({"items": items, "count": len(items)})


@command("/alarms/{alarm_id}/ack", "Acknowledge", ALARM_OPERATE)
async def ack(alarm_id: AlarmId, body: AckBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "ack", body.comment))


@command("/alarms/{alarm_id}/shelve", "Shelve for a bounded time", ALARM_OPERATE)
async def shelve(alarm_id: AlarmId, body: ShelveBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "shelve", body.reason, body.minutes))


@command("/alarms/{alarm_id}/unshelve", "Return a shelved alarm to the console", ALARM_OPERATE)
async def unshelve(alarm_id: AlarmId, access: AccessDep, body: CommentBody | None = None) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "unshelve", body.comment if body else None))


@command("/alarms/{alarm_id}/suppress", "Suppress by design (engineering decision)", ALARM_ENGINEER)
async def suppress(alarm_id: AlarmId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "suppress", body.comment))


@command("/alarms/{alarm_id}/unsuppress", "End suppression by design", ALARM_ENGINEER)
async def unsuppress(alarm_id: AlarmId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "unsuppress", body.comment))


@command("/alarms/{alarm_id}/out-of-service", "Remove from service (maintenance)", ALARM_ENGINEER)
async def out_of_service(alarm_id: AlarmId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "remove_from_service", body.comment))


@command("/alarms/{alarm_id}/in-service", "Return to service", ALARM_ENGINEER)
async def in_service(alarm_id: AlarmId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "return_to_service", body.comment))


@command("/alarms/{alarm_id}/comments", "Annotate: a comment in the alarm's journal", ANNOTATE,
         description="Regulators, operators and administrators leave notes on an alarm; the note goes into "
                         "the journal (event `commented`) and the audit log, and changes no state.")
async def annotate(alarm_id: AlarmId, body: AnnotationBody, access: AccessDep) -> JSON:
    return JSON(await access.alarm_command(alarm_id, "comment", body.text))
