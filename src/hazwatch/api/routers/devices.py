"""Devices in scope and their credentials (one secret per device for HTTP and MQTT)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from hazwatch.api.deps import AccessDep, needs
from hazwatch.auth.roles import DEVICE_CREDENTIALS, READ

router = APIRouter(tags=["devices"])
Code = Annotated[str, Path(min_length=1, max_length=64, description="device code")]


class DeviceOut(BaseModel):
    code: str
    enterprise: str
    sensors: list[str]


class DeviceList(BaseModel):
    items: list[DeviceOut]
    count: int


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field("device secret", min_length=1, max_length=100)


class CredentialOut(BaseModel):
    id: int
    device: str
    label: str
    created_at: int = Field(description="epoch microseconds")
    revoked_at: int | None = None


class CredentialCreated(CredentialOut):
    secret: str = Field(description="shown once: the HTTP bearer token and the MQTT password")
    mqtt_username: str


class CredentialList(BaseModel):
    items: list[CredentialOut]
    count: int


@router.get("/devices", response_model=DeviceList, summary="Devices in scope with their sensors",
            openapi_extra=needs(READ))
def list_devices(access: AccessDep) -> DeviceList:
    items = access.devices()
    return DeviceList(items=[DeviceOut(**d) for d in items], count=len(items))


@router.post("/devices/{code}/credentials", response_model=CredentialCreated, status_code=201,
             summary="Issue a device secret",
             description="The secret authenticates HTTP ingest (`Authorization: Bearer <secret>`) and, after "
                         "`hazwatch mqtt-auth export`, MQTT (user name = device code). Earlier secrets stay valid "
                         "for HTTP until revoked; the MQTT password file carries the newest.",
             openapi_extra=needs(DEVICE_CREDENTIALS))
def issue(code: Code, access: AccessDep, body: SecretIn | None = None) -> CredentialCreated:
    return CredentialCreated(**access.accounts.issue_device_secret(code, (body or SecretIn()).label))


@router.get("/devices/{code}/credentials", response_model=CredentialList, summary="A device's credentials",
            openapi_extra=needs(DEVICE_CREDENTIALS))
def list_credentials(code: Code, access: AccessDep) -> CredentialList:
    items = access.accounts.device_credentials(code)
    return CredentialList(items=[CredentialOut(**c) for c in items], count=len(items))


@router.delete("/devices/{code}/credentials/{cred_id}", status_code=204, response_class=Response,
               summary="Revoke a device secret", openapi_extra=needs(DEVICE_CREDENTIALS))
def revoke(code: Code, cred_id: Annotated[int, Path(ge=1, le=2**31 - 1)], access: AccessDep) -> Response:
    access.accounts.revoke_device_secret(code, cred_id)
    return Response(status_code=204)
