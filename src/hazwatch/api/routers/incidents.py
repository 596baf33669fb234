"""Incidents: the list in scope, the detail with timeline and tasks, state changes, acknowledgement,
comments, tasks, regulatory reports, interlock confirmations and the close-out report."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from hazwatch.api.deps import AccessDep, needs
from hazwatch.api.responses import JSON
from hazwatch.auth.roles import ANNOTATE, INCIDENT_RESPOND, INTERLOCK_CONFIRM, READ
from hazwatch.catalog.schema import HazardType, PriorityName, TierDoc

router = APIRouter(tags=["incidents"])
IncidentId = Annotated[int, Path(description="incident id", ge=1, le=2**31 - 1)]
ChildId = Annotated[int, Path(ge=1, le=2**31 - 1)]
State = Literal["reported", "assessing", "responding", "contained", "closed", "cancelled"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentOut(BaseModel):
    id: int
    enterprise: str | None
    title: str
    state: State
    hazard_type: str
    location: str | None = Field(description="hazard source or device code")
    priority: Literal["low", "medium", "high", "urgent"]
    trigger: str | None = Field(description="code of the trigger that opened it; null when opened by hand")
    plans: list[str] = Field(description="codes of the emergency plans whose steps became its tasks")
    tiers: list[TierDoc] = Field(description="the escalation ladder")
    tier: str | None = Field(description="the tier called now")
    escalate_at: str | None = Field(description="when the next tier is called unless someone acknowledges")
    opened_at: str
    opened_by: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    ended_at: str | None


class IncidentList(BaseModel):
    items: list[IncidentOut]
    count: int


class LinkedAlarm(BaseModel):
    alarm: int
    condition: str
    sensor: str | None
    sensor_id: int | None
    raised_at: str | None
    joined_at: str | None


class TimelineEntry(BaseModel):
    ts: str
    actor: str
    kind: str = Field(description="opened, alarm_joined, plan, task, notified, escalated, acknowledged, state, "
                                  "comment, task_acknowledged, task_done, task_escalated, clock_started, "
                                  "clock_warning, clock_overdue, reported, interlock_requested, "
                                  "interlock_confirmed, interlock_written, interlock_mismatch, interlock_failed, "
                                  "report, report_failed, located")
    detail: str


class TaskOut(BaseModel):
    id: int
    plan: str | None
    title: str
    role: str
    state: Literal["open", "acknowledged", "done", "cancelled"]
    due_at: str
    overdue: bool
    tier: str | None = Field(description="the tier an overdue, unacknowledged task has climbed to")
    acknowledged_by: str | None
    done_at: str | None
    done_by: str | None


class ClockOut(BaseModel):
    level: str
    started_at: str
    due_at: str
    reported_at: str | None
    reported_by: str | None
    status: Literal["running", "warning", "overdue", "reported", "stopped"]
    remaining_s: int | None = Field(description="seconds to the deadline (negative once overdue)")


class InterlockOut(BaseModel):
    id: int
    task: int | None
    target: str
    value: float
    second_person: bool
    state: Literal["requested", "confirmed", "written", "mismatch", "failed", "cancelled"]
    requested_at: str
    confirmed_by: str | None
    confirmed_at: str | None
    second_by: str | None
    written_at: str | None
    readback: float | None
    error: str | None


class DeliveryOut(BaseModel):
    attempt: int
    at: str
    ok: bool
    detail: str


class NotificationOut(BaseModel):
    id: int
    key: str = Field(description="idempotency key, the same on every delivery attempt")
    channel: Literal["in_app", "email", "webhook"]
    address: str | None = Field(description="e-mail address; for a webhook only its origin (the URL may hold a secret)")
    incident: int | None
    priority: str
    subject: str
    body: str
    created_at: str
    status: Literal["pending", "sent", "failed", "grouped"]
    attempts: int
    sent_at: str | None
    group: int | None = Field(description="the summary message it went out in")
    read_at: str | None


class NotificationWithLog(NotificationOut):
    deliveries: list[DeliveryOut]


class IncidentDetail(IncidentOut):
    alarms: list[LinkedAlarm]
    timeline: list[TimelineEntry]
    tasks: list[TaskOut]
    clocks: list[ClockOut]
    interlocks: list[InterlockOut]
    notifications: list[NotificationWithLog]


class OpenBody(_Body):
    enterprise: str = Field(description="code of the org the incident belongs to")
    title: str = Field(min_length=1, max_length=300)
    hazard_type: HazardType
    priority: PriorityName = "high"
    location: str | None = Field(None, description="hazard source or device code; picks on-site procedures")


class TransitionBody(_Body):
    to: State
    comment: str | None = Field(None, max_length=2000)


class CommentBody(_Body):
    comment: str | None = Field(None, max_length=2000)


class TextBody(_Body):
    text: str = Field(min_length=1, max_length=2000)


class ReportBody(_Body):
    level: str = Field(min_length=1, max_length=30, description="the level reported to, e.g. county")


def _detail(path: str, summary: str, permission: str, **kw):
    return router.post(path, response_model=IncidentDetail, summary=summary, openapi_extra=needs(permission), **kw)


@router.get("/incidents", summary="Incidents in scope, newest first", response_model=IncidentList,
            openapi_extra=needs(READ))
def list_incidents(access: AccessDep,
                   state: State | Literal["open"] | None = Query(None, description="open = not closed or "
                                                                                  "cancelled")) -> JSON:
    items = access.incidents(state)
    return JSON({"items": items, "count": len(items)})


@router.post("/incidents", summary="Open an incident by hand", response_model=IncidentDetail, status_code=201,
             openapi_extra=needs(INCIDENT_RESPOND))
async def open_incident(body: OpenBody, access: AccessDep) -> JSON:
    return JSON(await access.open_incident(body.enterprise, body.title, body.hazard_type, body.priority,
                                           body.location), status_code=201)


@router.get("/incidents/{incident_id}", summary="One incident with its alarms, timeline, tasks, clocks, "
            "interlocks and notifications", response_model=IncidentDetail, openapi_extra=needs(READ))
def get_incident(incident_id: IncidentId, access: AccessDep) -> JSON:
    return JSON(access.incident(incident_id))


@_detail("/incidents/{incident_id}/transition", "Move to the next state (or cancel)", INCIDENT_RESPOND,
         description="reported → assessing → responding → contained → closed; an assessment may go straight to "
                     "contained, contained may return to responding, and any open incident may be cancelled. "
                     "Closing writes the close-out report.")
async def transition(incident_id: IncidentId, body: TransitionBody, access: AccessDep) -> JSON:
    return JSON(await access.incident_command(incident_id, "transition", to=body.to, comment=body.comment))


@_detail("/incidents/{incident_id}/ack", "Acknowledge: stops the climb up the escalation ladder", INCIDENT_RESPOND)
async def acknowledge(incident_id: IncidentId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.incident_command(incident_id, "acknowledge", comment=body.comment))


@_detail("/incidents/{incident_id}/comments", "A comment on the timeline", ANNOTATE)
async def comment(incident_id: IncidentId, body: TextBody, access: AccessDep) -> JSON:
    return JSON(await access.incident_command(incident_id, "comment", text=body.text))


@_detail("/incidents/{incident_id}/tasks/{task_id}/ack", "Acknowledge a task (stops its escalation)",
         INCIDENT_RESPOND)
async def task_ack(incident_id: IncidentId, task_id: ChildId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.incident_command(incident_id, "task", task_id=task_id, action="acknowledge",
                                              comment=body.comment))


@_detail("/incidents/{incident_id}/tasks/{task_id}/done", "Mark a task done", INCIDENT_RESPOND)
async def task_done(incident_id: IncidentId, task_id: ChildId, body: CommentBody, access: AccessDep) -> JSON:
    return JSON(await access.incident_command(incident_id, "task", task_id=task_id, action="done",
                                              comment=body.comment))


@_detail("/incidents/{incident_id}/reports", "Record that the report to a regulator level was made",
         INCIDENT_RESPOND, description="Stops that level's clock and starts the next level's.")
async def report_made(incident_id: IncidentId, body: ReportBody, access: AccessDep) -> JSON:
    return JSON(await access.incident_command(incident_id, "report_made", level=body.level))


@_detail("/incidents/{incident_id}/interlocks/{interlock_id}/confirm", "Confirm a requested interlock write",
         INTERLOCK_CONFIRM, description="The confirmation the write needs (the second, by another person, where the "
                                        "plan asks for two) performs it through the protocol adapter, reads the "
                                        "target back and records both on the timeline. Nothing is written otherwise.")
async def confirm_interlock(incident_id: IncidentId, interlock_id: ChildId, access: AccessDep) -> JSON:
    return JSON(await access.incident_command(incident_id, "confirm_interlock", interlock_id=interlock_id))


@router.get("/incidents/{incident_id}/report.pdf", summary="The close-out report (PDF)", response_class=FileResponse,
            responses={200: {"content": {"application/pdf": {}}}}, openapi_extra=needs(READ))
def report_pdf(incident_id: IncidentId, access: AccessDep) -> FileResponse:
    return FileResponse(access.report_file(incident_id, "pdf"), media_type="application/pdf",
                        filename=f"incident-{incident_id}.pdf")


@router.get("/incidents/{incident_id}/report.html", summary="The close-out report (HTML)",
            response_class=FileResponse, responses={200: {"content": {"text/html": {}}}}, openapi_extra=needs(READ))
def report_html(incident_id: IncidentId, access: AccessDep) -> FileResponse:
    return FileResponse(access.report_file(incident_id, "html"), media_type="text/html")
