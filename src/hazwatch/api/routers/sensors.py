"""Sensors with their limits and current values, and each sensor's raw or downsampled series."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from hazwatch.api.deps import AccessDep, needs
from hazwatch.api.responses import JSON
from hazwatch.api.timeparse import parse_step, parse_time
from hazwatch.auth.roles import READ
from hazwatch.domain.batch import US

router = APIRouter(tags=["sensors"])
Limits = dict[Literal["LL", "L", "H", "HH"], float | None]


class SensorOut(BaseModel):
    tag: str
    name: str
    kind: str
    unit: str
    device: str = Field(description="device code: MQTT topic hz/v1/{enterprise}/{device}/telemetry")
    enterprise: str = Field(description="enterprise code")
    range_low: float
    range_high: float
    limits: Limits
    priorities: dict[Literal["LL", "L", "H", "HH"], Literal["low", "medium", "high", "urgent"]]
    deadband: float
    on_delay_s: float
    off_delay_s: float
    longitude: float | None
    latitude: float | None
    in_use: bool
    interval_s: float | None = Field(description="expected reporting interval (stale-data watch)")
    stale_intervals: int
    flatline_s: float | None = Field(description="flatline watch: longest a value may stay unchanged")
    source: str | None = Field(description="OPC UA endpoint#node the server reads, if any")
    roc_limit: float | None = Field(None, description="rate-of-change alarm: units per minute, either way")
    roc_window_s: float = 60.0
    roc_deadband: float = 0.0
    trend_horizon_s: float | None = Field(None, description="early warning when H or L is predicted to be "
                                                            "crossed within this many seconds")
    trend_window_s: float = 600.0
    suppress_when: str | None = Field(None, description="state-based suppression condition, if any")
    last_ts: float | None = Field(description="epoch seconds of the newest reading")
    last_value: float | None


class SensorList(BaseModel):
    items: list[SensorOut]
    count: int


class SeriesOut(BaseModel):
    """Columns: raw readings carry ts/value/quality, buckets ts/min/avg/max/last/count."""

    sensor: str
    unit: str
    ts: list[float]
    value: list[float] | None = None
    quality: list[Literal["good", "uncertain", "bad"]] | None = None
    min: list[float | None] | None = None
    avg: list[float | None] | None = None
    max: list[float | None] | None = None
    last: list[float | None] | None = None
    count: list[int] | None = None


@router.get("/sensors", summary="Sensors in scope with their limits and latest values", response_model=SensorList,
            openapi_extra=needs(READ))
def list_sensors(access: AccessDep, enterprise: str | None = None, kind: str | None = None) -> JSON:
    items = access.sensor_views(enterprise, kind)
    return JSON({"items": items, "count": len(items)})


@router.get("/sensors/{tag}", summary="One sensor", response_model=SensorOut, openapi_extra=needs(READ))
def get_sensor(tag: str, access: AccessDep) -> JSON:
    return JSON(access.sensor_view(access.sensor(tag)))


@router.get(
    "/sensors/{tag}/series",
    summary="Raw or downsampled series",
    response_model=SeriesOut,
    description="Without `step`: raw readings `{ts, value, quality}`. With `step`: one row per bucket "
                "`{ts, min, avg, max, last, count}` (bad-quality readings left out). `ts` values are epoch "
                "seconds; a bucket's ts is its start.",
    openapi_extra=needs(READ),
)
def series(tag: str, access: AccessDep,
           start: str | None = Query(None, description="ISO 8601 or epoch seconds; default end - 1 h"),
           end: str | None = Query(None, description="ISO 8601 or epoch seconds; default now"),
           step: str | None = Query(None, description="bucket width: seconds or 10s, 1m, 1h, 1d"),
           limit: int = Query(100_000, ge=1, le=1_000_000)) -> JSON:
    sid = access.sensor(tag)
    end_us = parse_time(end, "end") if end else time.time_ns() // 1000
    start_us = parse_time(start, "start") if start else end_us - 3600 * US
    if start_us >= end_us:
        raise HTTPException(422, "`start` must be before `end`")
    step_us = parse_step(step) if step else None
    frame = access.series(tag, start_us, end_us, step_us, limit)
    out: dict = {"sensor": tag, "unit": access.sensor_view(sid)["unit"]}
    for name, col in frame.columns.items():
        if name == "ts":
            out[name] = (col / US).tolist()
        elif name == "quality":
            out[name] = [("good", "uncertain", "bad")[q] for q in col.tolist()]
        else:
            out[name] = col.tolist()
    return JSON(out)
