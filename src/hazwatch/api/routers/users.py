"""Users in scope: create, list, disable."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from hazwatch.api.deps import AccessDep, needs
from hazwatch.auth.roles import USERS_MANAGE

router = APIRouter(tags=["users"])
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100, pattern=r"^[\w.@\-]+$")
    password: str = Field(min_length=1, max_length=1000, description="at least 10 characters")
    role: Literal["admin", "regulator", "park_admin", "enterprise_admin", "operator", "viewer"]
    org: int | None = Field(None, ge=1, le=2**31 - 1, description="the org whose subtree the user sees")


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    org: int | None
    org_code: str | None
    disabled: bool


class UserList(BaseModel):
    items: list[UserOut]
    count: int


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user in your scope",
             description="Park admins create park admins, enterprise admins, operators and viewers; enterprise "
                         "admins create enterprise admins, operators and viewers. The role must suit the org: "
                         "a regulator belongs to a region, a park_admin to a park, an enterprise_admin to an "
                         "enterprise.",
             openapi_extra=needs(USERS_MANAGE))
def create_user(body: UserIn, access: AccessDep) -> UserOut:
    return UserOut(**access.accounts.create_user(body.username, body.password, body.role, body.org))


@router.get("/users", response_model=UserList, summary="Users in your scope", openapi_extra=needs(USERS_MANAGE))
def list_users(access: AccessDep) -> UserList:
    items = access.accounts.users()
    return UserList(items=[UserOut(**u) for u in items], count=len(items))


@router.get("/users/{user_id}", response_model=UserOut, summary="One user", openapi_extra=needs(USERS_MANAGE))
def get_user(user_id: UserId, access: AccessDep) -> UserOut:
    return UserOut(**access.accounts.user(user_id))


@router.delete("/users/{user_id}", response_model=UserOut, summary="Disable a user and revoke their tokens",
               openapi_extra=needs(USERS_MANAGE))
def disable_user(user_id: UserId, access: AccessDep) -> UserOut:
    return UserOut(**access.accounts.disable_user(user_id))
