"""Dependencies shared by the routers. Authentication and the tenant scope live here, once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hazwatch.auth import Principal
from hazwatch.services import Services

_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer <token>`")


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def authenticate(services: Services, token: str | None) -> Principal:
    principal = services.auth.authenticate(token) if token else None
    if principal is None:
        raise HTTPException(401, "missing or invalid API token: send `Authorization: Bearer <token>`",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


def current_user(services: ServicesDep,
                 creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    return authenticate(services, creds.credentials if creds else None)


CurrentUser = Annotated[Principal, Depends(current_user)]


class Scope:
    """Which enterprises a principal may see: None means the whole installation."""

    def __init__(self, org_ids: frozenset[int] | None) -> None:
        self.org_ids = org_ids

    def allows(self, org_id: int) -> bool:
        return self.org_ids is None or org_id in self.org_ids


def scope(services: ServicesDep, user: CurrentUser) -> Scope:
    if user.org_id is None:
        return Scope(None)
    return Scope(services.org_subtree(user.org_id))


ScopeDep = Annotated[Scope, Depends(scope)]
