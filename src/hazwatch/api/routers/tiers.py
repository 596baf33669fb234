"""What the tiers below sent up (a regulator's view of its parks), received over NATS."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from hazwatch.api.deps import AccessDep, needs
from hazwatch.auth.roles import READ

router = APIRouter(tags=["tiers"])


class TierEventOut(BaseModel):
    park: str
    kind: str
    key: str
    ts: str | None
    received_at: str | None
    body: dict[str, Any]


class TierEventList(BaseModel):
    items: list[TierEventOut]
    count: int


@router.get("/tiers/events", response_model=TierEventList,
            summary="Alarms, summaries, aggregates and checkpoints from the parks",
            description="Each park's alarm journal rows, periodic summaries (hazwatch-summary/1), per-sensor "
                        "aggregates of each window (min, avg, max, last, count) and cosigned ledger checkpoints, as "
                        "its uplink sent them (hazwatch-uplink/1; docs/scale.md), newest first. "
                        "Raw readings never come up. Users of the whole installation see every park; others see "
                        "the parks whose org code is in their scope.",
            openapi_extra=needs(READ))
def tier_events(access: AccessDep, park: str | None = Query(None, max_length=100),
                kind: Literal["alarm", "summary", "checkpoint", "aggregate"] | None = None,
                limit: int = Query(100, ge=1, le=1000)) -> TierEventList:
    items = access.tier_events(park, kind, limit)
    return TierEventList(items=[TierEventOut(**i) for i in items], count=len(items))
