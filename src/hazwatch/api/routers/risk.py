"""Evaluation: major-hazard grading (GB 18218-2018), risk points (LEC, 5 × 5 matrix), each
enterprise's colour with its reasons, and the hidden-danger register."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hazwatch.api.deps import AccessDep, needs
from hazwatch.api.responses import JSON
from hazwatch.auth.roles import HIDDEN_MANAGE, HIDDEN_REPORT, READ, REPORTS_REQUEST, RISK_ASSESS
from hazwatch.domain.batch import US
from hazwatch.risk.grading import evaluate
from hazwatch.risk.hidden import FOUND_BY, STATES

router = APIRouter(tags=["risk"])
Colour = Literal["blue", "yellow", "orange", "red"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- major hazards ------------------------------------------------------------------------------------------
class SubstanceIn(_Body):
    name: str | None = Field(None, max_length=200, description="English or Chinese name, or a common alias")
    cas: str | None = Field(None, max_length=20)
    category: str | None = Field(None, max_length=10, description="hazard category (J1..J5, W1.1..W11) of a "
                                                                  "substance GB 18218-2018 table 1 does not name")
    quantity_t: float = Field(ge=0, le=1e9, description="actual quantity, tonnes")

    @model_validator(mode="after")
    def _named(self) -> SubstanceIn:
        if not (self.name or self.cas or self.category):
            raise ValueError("give the substance's name, cas or category")
        return self


class EvaluateBody(_Body):
    substances: list[SubstanceIn] = Field(min_length=1, max_length=1000)
    exposed_people: int = Field(0, ge=0, le=100_000_000, description="people outside the plant within 500 m")


class Term(BaseModel):
    substance: str
    cas: str | None
    category: str | None
    quantity_t: float
    critical_t: float = Field(description="critical quantity Q")
    beta: float
    ratio: float = Field(description="q / Q")
    weighted: float = Field(description="β · q / Q")
    source: str = Field(description="where Q and β come from")


class Grading(BaseModel):
    S: float = Field(description="Σ q/Q; ≥ 1 is a major hazard")
    R: float = Field(description="α · Σ β q/Q")
    alpha: float
    exposed_people: int
    is_major_hazard: bool
    level: int | None = Field(description="1 (R ≥ 100) … 4 (R < 10); null when not a major hazard")
    terms: list[Term]


class GradedSource(BaseModel):
    code: str
    name: str
    enterprise: str | None
    exposed_people: int
    grading: Grading | None
    error: str | None = Field(description="why the source cannot be graded (a substance of unknown category)")


class GradedList(BaseModel):
    items: list[GradedSource]
    count: int


@router.post("/risk/major-hazard/evaluate", summary="Grade a set of substances (GB 18218-2018)",
             response_model=Grading, openapi_extra=needs(READ),
             description="S = Σ q/Q (major hazard when S ≥ 1), R = α Σ β q/Q, level 1-4, with every term shown. A "
                         "substance the standard's table 1 does not name needs its hazard category.")
def evaluate_major_hazard(body: EvaluateBody, access: AccessDep) -> JSON:
    return JSON(evaluate([s.model_dump() for s in body.substances], body.exposed_people).as_dict())


@router.get("/risk/major-hazards", summary="Every hazard source in scope, graded", response_model=GradedList,
            openapi_extra=needs(READ))
def major_hazards(access: AccessDep) -> JSON:
    items = access.major_hazards()
    return JSON({"items": items, "count": len(items)})


# -- risk points and colours ----------------------------------------------------------------------------------
class PointIn(_Body):
    enterprise: str
    hazard_source: str | None = Field(None, description="code of the hazard source the point belongs to")
    location: str | None = Field(None, max_length=200)
    name: str = Field(min_length=1, max_length=200, description="the point; a new assessment of the same name "
                                                                "replaces the old one")
    method: Literal["lec", "matrix"]
    l: float = Field(description="LEC: 10, 6, 3, 1, 0.5, 0.2, 0.1; matrix: 1-5")  # noqa: E741
    e: float | None = Field(None, description="LEC exposure: 10, 6, 3, 2, 1, 0.5")
    c: float | None = Field(None, description="LEC consequence: 100, 40, 15, 7, 3, 1")
    s: int | None = Field(None, description="matrix severity: 1-5")
    measures: str | None = Field(None, max_length=2000)


class PointOut(BaseModel):
    id: int
    enterprise: str | None
    hazard_source_id: int | None
    location: str | None
    name: str
    method: Literal["lec", "matrix"]
    l: float  # noqa: E741 - the method's own letter
    e: float | None
    c: float | None
    s: int | None
    value: float = Field(description="D (LEC) or R (matrix)")
    colour: Colour
    explanation: str
    measures: str | None
    assessed_by: str
    assessed_at: str


class PointList(BaseModel):
    items: list[PointOut]
    count: int


class Reason(BaseModel):
    source: Literal["hazard_grade", "risk_point", "alarms", "incidents", "hidden_dangers"]
    colour: Colour
    detail: str
    params: dict[str, str | int | float | bool] = Field(
        description="the detail's facts (hazard_grade: code, level, R; risk_point: name, method, value; alarms: "
                    "count, priority; incidents: count, urgent; hidden_dangers: count, grade), for other languages")


class EnterpriseColour(BaseModel):
    enterprise: str
    name: str
    colour: Colour = Field(description="the most severe colour among the reasons; blue without any")
    reasons: list[Reason]


class Overview(BaseModel):
    items: list[EnterpriseColour]
    count: int


@router.get("/risk/points", summary="Assessed risk points in scope", response_model=PointList,
            openapi_extra=needs(READ))
def list_points(access: AccessDep) -> JSON:
    items = access.registers.points()
    return JSON({"items": items, "count": len(items)})


@router.post("/risk/points", summary="Assess a risk point (LEC or 5 × 5 matrix)", response_model=PointOut,
             status_code=201, openapi_extra=needs(RISK_ASSESS),
             description="Factors outside the method's value tables are refused with the values allowed.")
def assess_point(body: PointIn, access: AccessDep) -> JSON:
    factors = {"l": body.l, "e": body.e, "c": body.c, "s": body.s}
    return JSON(access.registers.assess(body.enterprise, body.hazard_source, body.location, body.name, body.method,
                                         factors, body.measures), status_code=201)


@router.get("/risk/overview", summary="Each enterprise's colour in scope, with the reasons for it",
            response_model=Overview, openapi_extra=needs(READ))
def overview(access: AccessDep) -> JSON:
    items = access.risk_overview()
    return JSON({"items": items, "count": len(items)})


# -- hidden dangers --------------------------------------------------------------------------------------------
HdId = Annotated[int, Path(description="hidden danger id", ge=1, le=2**31 - 1)]
HdState = Literal["reported", "under_review", "rectifying", "awaiting_acceptance", "accepted", "closed"]


class HiddenFields(_Body):
    responsible: str | None = Field(None, max_length=100)
    deadline: datetime | None = Field(None, description="ISO 8601")
    measures: str | None = Field(None, max_length=4000)
    funding: float | None = Field(None, ge=0, le=1e12, description="yuan")
    contingency_plan: str | None = Field(None, max_length=4000)

    def values(self) -> dict:
        out = self.model_dump(exclude_none=True)
        if self.deadline is not None:
            if self.deadline.tzinfo is None:
                raise ValueError("deadline needs a time zone")
            out["deadline"] = int(self.deadline.timestamp() * US)
        return out


class HiddenIn(HiddenFields):
    enterprise: str
    hazard_source: str | None = None
    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(None, max_length=4000)
    grade: Literal["general", "major"]
    found_by: Literal[FOUND_BY] = Field(description="the inspection that found it")  # type: ignore[valid-type]
    handling: Literal["on_the_spot", "by_deadline"]


class TransitionIn(HiddenFields):
    to: HdState
    comment: str | None = Field(None, max_length=2000)


class HistoryEntry(BaseModel):
    ts: str
    actor: str
    kind: str
    detail: str


class HiddenOut(BaseModel):
    id: int
    enterprise: str | None
    hazard_source_id: int | None
    title: str
    description: str | None
    grade: Literal["general", "major"]
    found_by: str
    handling: str
    state: HdState
    responsible: str | None
    deadline: str | None
    measures: str | None
    funding: float | None
    contingency_plan: str | None
    reported_by: str
    reported_at: str
    closed_at: str | None
    overdue: bool = Field(description="past its deadline and not yet accepted")


class HiddenDetail(HiddenOut):
    history: list[HistoryEntry]


class HiddenList(BaseModel):
    items: list[HiddenOut]
    count: int


def _fields(body: HiddenFields) -> dict:
    try:
        return body.values()
    except ValueError as e:
        from hazwatch.domain.errors import Invalid

        raise Invalid(f"deadline: {e}") from None


@router.get("/hidden-dangers", summary="Hidden dangers in scope, newest first", response_model=HiddenList,
            openapi_extra=needs(READ))
def list_hidden(access: AccessDep, state: HdState | Literal["open", "overdue"] | None = Query(None)) -> JSON:
    items = access.registers.hidden_dangers(state)
    return JSON({"items": items, "count": len(items)})


@router.post("/hidden-dangers", summary="Report a hidden danger", response_model=HiddenDetail, status_code=201,
             openapi_extra=needs(HIDDEN_REPORT))
def report_hidden(body: HiddenIn, access: AccessDep) -> JSON:
    fields = _fields(body) | {"title": body.title, "description": body.description, "grade": body.grade,
                              "found_by": body.found_by, "handling": body.handling}
    return JSON(access.registers.report(body.enterprise, body.hazard_source, fields), status_code=201)


@router.get("/hidden-dangers/{hd_id}", summary="One hidden danger with its history", response_model=HiddenDetail,
            openapi_extra=needs(READ))
def get_hidden(hd_id: HdId, access: AccessDep) -> JSON:
    return JSON(access.registers.hidden_danger(hd_id))


@router.post("/hidden-dangers/{hd_id}/transition", summary="Move a hidden danger on (filling in its fields)",
             response_model=HiddenDetail, openapi_extra=needs(HIDDEN_MANAGE),
             description=f"{' → '.join(STATES)}; a failed acceptance goes back to rectifying. A major hidden "
                         "danger needs its responsible person, deadline, measures, funding and contingency plan "
                         "before it leaves `reported`; give any of them here.")
def move_hidden(hd_id: HdId, body: TransitionIn, access: AccessDep) -> JSON:
    return JSON(access.registers.move(hd_id, body.to, body.comment, _fields(body)))


# -- KPIs ---------------------------------------------------------------------------------------------------------
class Spread(BaseModel):
    count: int
    mean_s: float | None
    median_s: float | None
    p90_s: float | None


class AckSpread(Spread):
    unacknowledged: int = Field(description="alarms raised in the period not acknowledged within it")


class Offender(BaseModel):
    alarm: int
    label: str
    count: int
    share: float = Field(description="percent of all alarms raised in the period")


class Chatter(BaseModel):
    alarm: int
    label: str
    count: int


class Standing(BaseModel):
    alarm: int
    label: str
    since: str | None


class PriorityShare(BaseModel):
    count: int
    percent: float
    guideline_percent: float


class AlarmKpis(BaseModel):
    raised: int
    per_10min: float
    per_hour: float | None
    peak_10min: int = Field(description="most alarms in one 10-minute period")
    periods_10min: int
    flood_percent: float = Field(description="percent of 10-minute periods with more than HAZWATCH_FLOOD_ALARMS "
                                             "(10) alarms")
    top10: list[Offender]
    top10_share: float
    chattering: list[Chatter]
    fleeting: int = Field(description="activations that cleared within 10 s")
    standing: list[Standing] = Field(description="alarms active for more than 24 h at the end of the period")
    priorities: dict[Literal["low", "medium", "high"], PriorityShare] = Field(
        description="the mix of raised alarms against the 80/15/5 guideline (high includes urgent)")
    acknowledge: AckSpread


class IncidentKpis(BaseModel):
    opened: int
    acknowledge: Spread
    contain: Spread
    close: Spread


class Kpis(BaseModel):
    enterprise: str | None = Field(description="the area; null = everything in scope")
    start: str
    end: str
    alarms: AlarmKpis
    incidents: IncidentKpis


@router.get("/kpis", summary="Alarm-system and response KPIs of an area and period (ISA-18.2 / EEMUA 191)",
            response_model=Kpis, openapi_extra=needs(READ))
def kpis(access: AccessDep,
         enterprise: str | None = Query(None, description="org code of the area; default: everything in scope"),
         start: str | None = Query(None, description="ISO 8601 or epoch seconds; default: 24 h before end"),
         end: str | None = Query(None, description="ISO 8601 or epoch seconds; default: now")) -> JSON:
    from hazwatch.api.timeparse import parse_time

    end_us = parse_time(end, "end") if end else access.now_us()
    start_us = parse_time(start, "start") if start else end_us - 86400 * US
    if start_us >= end_us:
        from hazwatch.domain.errors import Invalid

        raise Invalid("`start` must be before `end`")
    return JSON(access.kpis(enterprise, start_us, end_us))


# -- periodic reports -------------------------------------------------------------------------------------------
ReportId = Annotated[int, Path(description="report id", ge=1, le=2**31 - 1)]


class ReportIn(_Body):
    scope: str = Field(description="code of the enterprise, park or region")
    period: str = Field(max_length=12, description="a day (2026-11-24), an ISO week (2026-W48) or a month (2026-11)")
    lang: Literal["zh", "en"] = "zh"


class ReportOut(BaseModel):
    id: int
    scope: str | None
    kind: Literal["daily", "weekly", "monthly"]
    period: str
    lang: Literal["zh", "en"]
    start: str
    end: str
    created_at: str
    created_by: str = Field(description="who asked for it, or `schedule`")
    name: str


class ReportList(BaseModel):
    items: list[ReportOut]
    count: int


@router.get("/reports", summary="Periodic reports in scope, newest first", response_model=ReportList,
            openapi_extra=needs(READ))
def list_reports(access: AccessDep) -> JSON:
    items = access.reports.list()
    return JSON({"items": items, "count": len(items)})


@router.post("/reports", summary="Write a periodic report now (HTML and PDF)", response_model=ReportOut,
             status_code=201, openapi_extra=needs(REPORTS_REQUEST),
             description="Writing it again replaces the earlier files of the same scope, period and language.")
async def request_report(body: ReportIn, access: AccessDep) -> JSON:
    from fastapi.concurrency import run_in_threadpool

    return JSON(await run_in_threadpool(access.request_report, body.scope, body.period, body.lang), status_code=201)


@router.get("/reports/{report_id}/pdf", summary="A report's PDF", response_class=FileResponse,
            responses={200: {"content": {"application/pdf": {}}}}, openapi_extra=needs(READ))
def report_pdf(report_id: ReportId, access: AccessDep) -> FileResponse:
    path = access.reports.file(report_id, "pdf")
    return FileResponse(path, media_type="application/pdf", filename=path.name)


@router.get("/reports/{report_id}/html", summary="A report's HTML", response_class=FileResponse,
            responses={200: {"content": {"text/html": {}}}}, openapi_extra=needs(READ))
def report_html(report_id: ReportId, access: AccessDep) -> FileResponse:
    return FileResponse(access.reports.file(report_id, "html"), media_type="text/html")


# -- the upward feed ----------------------------------------------------------------------------------------------
class HazardStatus(BaseModel):
    code: str
    enterprise: str | None
    level: int | None
    S: float
    R: float


class OpenIncident(BaseModel):
    id: int
    enterprise: str | None
    title: str
    state: str
    hazard_type: str
    priority: str
    tier: str | None
    opened_at: str
    acknowledged_at: str | None


class HiddenCounts(BaseModel):
    open: int
    overdue_major: int
    overdue_general: int


class HourKpis(BaseModel):
    raised: int
    per_10min: float
    peak_10min: int
    flood_percent: float
    acknowledge_median_s: float | None
    standing: int


class Summary(BaseModel):
    format: Literal["hazwatch-summary/1"]
    org: str = Field(description="the org summarized (its code), or `installation`")
    generated_at: str
    enterprises: list[EnterpriseColour]
    major_hazards: list[HazardStatus]
    incidents: list[OpenIncident] = Field(description="open incidents")
    hidden_dangers: HiddenCounts
    alarms_last_hour: HourKpis


@router.get("/summary", summary="The summary for the tier above: colours, major hazards, open incidents, hidden "
            "dangers, the last hour's alarm KPIs", response_model=Summary, openapi_extra=needs(READ),
            description="The document the server also pushes every HAZWATCH_FEED_INTERVAL_S on the bus and, with "
                        "MQTT configured, retained on hz/v1/{org}/summary (docs/asyncapi.yaml).")
def get_summary(access: AccessDep, org: str | None = Query(None, description="org code; default: your own scope")
                ) -> JSON:
    return JSON(access.summary(org))
