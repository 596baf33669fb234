"""A user's in-app notifications and notification preferences."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hazwatch.api.deps import AccessDep, needs
from hazwatch.api.responses import JSON
from hazwatch.api.routers.incidents import NotificationOut
from hazwatch.auth.roles import SELF
from hazwatch.catalog.schema import PriorityName

router = APIRouter(tags=["notifications"])


class Inbox(BaseModel):
    items: list[NotificationOut]
    count: int


class Prefs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: list[Literal["in_app", "email", "webhook"]] = Field(
        ["in_app"], description="where messages go; in-app messages are always kept")
    email: str | None = Field(None, max_length=300, pattern=r"^[^@\s]+@[^@\s]+$")
    webhook_url: str | None = Field(None, max_length=300, pattern=r"^https?://\S+$")
    hours: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$",
                              description="HH:MM-HH:MM in the server's notification time zone: outside it only "
                                          "in-app and urgent messages arrive; null = any time")
    min_priority: PriorityName = Field("low", description="messages below this priority only go in-app")

    @field_validator("webhook_url")
    @classmethod
    def _parses(cls, v: str | None) -> str | None:
        """The pattern lets through what no HTTP client can call ("http://[oops"): refuse it here,
        not at the first alarm."""
        if v is None:
            return v
        try:
            parts = urlsplit(v)
            host, _port = parts.hostname, parts.port
        except ValueError as e:
            raise ValueError(f"not a URL: {e}") from None
        if not host:
            raise ValueError("the URL names no host")
        return v


@router.get("/notifications", summary="My in-app notifications, newest first", response_model=Inbox,
            openapi_extra=needs(SELF))
def inbox(access: AccessDep, unread: bool = Query(False, description="only those not yet read")) -> JSON:
    items = access.inbox.list(unread)
    return JSON({"items": items, "count": len(items)})


@router.post("/notifications/{notification_id}/read", summary="Mark one of my notifications read",
             response_model=NotificationOut, openapi_extra=needs(SELF))
def mark_read(notification_id: Annotated[int, Path(ge=1, le=2**31 - 1)], access: AccessDep) -> JSON:
    return JSON(access.inbox.mark_read(notification_id))


@router.get("/me/notification-preferences", summary="My notification preferences", response_model=Prefs,
            openapi_extra=needs(SELF))
def get_prefs(access: AccessDep) -> JSON:
    return JSON(access.inbox.prefs())


@router.put("/me/notification-preferences", summary="Set my notification preferences", response_model=Prefs,
            openapi_extra=needs(SELF))
def set_prefs(body: Prefs, access: AccessDep) -> JSON:
    return JSON(access.inbox.set_prefs(body.model_dump()))
