"""Dependencies shared by the routers. Authentication, the role check and the tenant scope happen
here, once: every operation declares the permission it needs (`x-permission` in the OpenAPI
document, set with `needs()`), and `access` reads it from the matched route, checks the caller's
role against the table in auth/roles.py and hands the handler an Access bound to the caller's
scope. A route that declares nothing is refused, so forgetting is safe."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hazwatch.access import Access
from hazwatch.auth import Principal
from hazwatch.auth import roles as R
from hazwatch.domain.text import a
from hazwatch.services import Services

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`: an access token from "
                     "/api/v1/auth/token, an API key, or a device secret")


def needs(permission: str, **openapi_extra: Any) -> dict:
    """The `openapi_extra` of an operation that requires `permission`."""
    return {"x-permission": permission, **openapi_extra}


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def authenticate(services: Services, token: str | None) -> Principal:
    principal = services.auth.authenticate(token) if token else None
    if principal is None:
        raise HTTPException(401, "missing, invalid, expired or revoked token: send `Authorization: Bearer <token>`",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


def remote_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def route_permission(request: Request) -> str | None:
    route = request.scope.get("route")
    return (getattr(route, "openapi_extra", None) or {}).get("x-permission")


async def access(request: Request, services: ServicesDep,
                 creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Access:
    permission = route_permission(request)
    token = creds.credentials if creds else None
    # A cached token costs a dict lookup on the event loop; only a miss goes to the database,
    # on a worker thread.
    principal = services.auth.cached(token) if token else None
    if principal is None:
        principal = await run_in_threadpool(authenticate, services, token)
    if permission is None or not R.allowed(principal.role, permission):
        raise HTTPException(403, f"{a(principal.role)} may not do this ({permission or 'undeclared'})")
    return Access(services, principal, remote_of(request))


AccessDep = Annotated[Access, Depends(access)]
