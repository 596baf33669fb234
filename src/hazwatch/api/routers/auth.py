"""Logging in (OAuth2 password and refresh_token grants), revoking tokens, API keys."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from hazwatch.api.deps import AccessDep, ServicesDep, needs, remote_of
from hazwatch.auth import InvalidGrant
from hazwatch.auth.roles import OWN_CREDENTIALS, PERMISSIONS, PUBLIC, SELF

router = APIRouter(tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the access token lives")
    refresh_token: str
    refresh_expires_in: int


class MeOut(BaseModel):
    name: str
    role: str
    org: int | None = Field(description="the org whose subtree is the caller's scope; null = everything")
    device: int | None = Field(None, description="set for device credentials")
    permissions: list[str]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=100)
    expires_days: float | None = Field(None, gt=0, le=3650, description="omit for a key that lives until revoked")
    password: str | None = Field(None, max_length=1000, description="your password: needed unless you logged in "
                                 "with it in the last 5 minutes")


class KeyOut(BaseModel):
    id: int
    label: str
    created_at: int = Field(description="epoch microseconds")
    expires_at: int | None
    revoked_at: int | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="shown once; send as `Authorization: Bearer <key>`")


class KeyList(BaseModel):
    items: list[KeyOut]
    count: int


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current: str = Field(min_length=1, max_length=1000)
    new: str = Field(min_length=1, max_length=1000, description="at least 10 characters")


class Revoked(BaseModel):
    revoked: bool


@router.post(
    "/auth/token", response_model=TokenOut, summary="Log in: OAuth2 password or refresh_token grant",
    description="Form fields as in RFC 6749: `grant_type=password` (the default) with `username` and "
                "`password`, or `grant_type=refresh_token` with `refresh_token`. A refresh token is spent when "
                "used. After repeated failures a user name is locked *from that client address* for a growing time, "
                "and an address that fails with many names is locked as a whole (429 with Retry-After): "
                "failures from elsewhere never lock a user out where they work.",
    responses={400: {"description": "invalid_grant: wrong name or password, or an unusable refresh token"},
               429: {"description": "too many failed logins from this address; see Retry-After"}},
    openapi_extra=needs(PUBLIC),
)
def token(request: Request, services: ServicesDep,
          grant_type: Annotated[Literal["password", "refresh_token"], Form()] = "password",
          username: Annotated[str | None, Form(max_length=100)] = None,
          password: Annotated[str | None, Form(max_length=1000)] = None,
          refresh_token: Annotated[str | None, Form(max_length=200)] = None) -> TokenOut:
    try:
        if grant_type == "password":
            if not username or password is None:
                raise HTTPException(400, "grant_type=password needs `username` and `password`")
            pair = services.auth.login(username, password, remote_of(request))
        else:
            if not refresh_token:
                raise HTTPException(400, "grant_type=refresh_token needs `refresh_token`")
            pair = services.auth.refresh(refresh_token)
    except InvalidGrant as e:
        raise HTTPException(400, f"invalid_grant: {e}") from None
    return TokenOut(access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token,
                    refresh_expires_in=pair.refresh_expires_in)


@router.post("/auth/revoke", response_model=Revoked, summary="Revoke a token you hold (RFC 7009)",
             description="Access and refresh tokens, API keys. An unknown token is not an error.",
             openapi_extra=needs(SELF))
def revoke(body: RevokeIn, access: AccessDep) -> Revoked:
    return Revoked(revoked=access.accounts.revoke_token(body.token))


@router.get("/auth/me", response_model=MeOut, summary="Who am I: role, scope and permissions",
            openapi_extra=needs(SELF))
def me(access: AccessDep) -> MeOut:
    p = access.principal
    return MeOut(name=p.name, role=p.role, org=p.org_id, device=p.device_id,
                 permissions=sorted(PERMISSIONS.get(p.role, ())))


@router.post("/auth/keys", response_model=KeyCreated, status_code=201,
             summary="Create an API key for an integration; it acts as you", openapi_extra=needs(OWN_CREDENTIALS))
def create_key(body: KeyIn, access: AccessDep) -> KeyCreated:
    return KeyCreated(**access.accounts.create_api_key(body.label, body.expires_days, body.password))


@router.get("/auth/keys", response_model=KeyList, summary="Your API keys (without the secrets)",
            openapi_extra=needs(OWN_CREDENTIALS))
def list_keys(access: AccessDep) -> KeyList:
    items = access.accounts.api_keys()
    return KeyList(items=[KeyOut(**i) for i in items], count=len(items))


@router.delete("/auth/keys/{key_id}", status_code=204, response_class=Response,
               summary="Revoke one of your API keys", openapi_extra=needs(OWN_CREDENTIALS))
def revoke_key(key_id: Annotated[int, Path(ge=1, le=2**31 - 1)], access: AccessDep) -> Response:
    access.accounts.revoke_api_key(key_id)
    return Response(status_code=204)


@router.post("/auth/password", status_code=204, response_class=Response, summary="Change your password",
             description="Needs the current password. Every other login session of yours ends; API keys stay.",
             openapi_extra=needs(OWN_CREDENTIALS))
def change_password(body: PasswordIn, access: AccessDep) -> Response:
    access.accounts.change_password(body.new, body.current)
    return Response(status_code=204)
