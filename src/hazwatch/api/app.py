"""FastAPI application factory: routers under /api/v1, errors as {"detail": "..."}, and the
hardening every answer gets (security headers, size and rate limits, CORS closed unless asked)."""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel
from sqlalchemy.exc import DataError

from hazwatch import __version__, web
from hazwatch.api import storage
from hazwatch.api.middleware import BodyLimit, RateLimit, SecurityHeaders
from hazwatch.api.openapi import build_openapi
from hazwatch.api.responses import JSON
from hazwatch.api.routers import (
    alarms,
    audit,
    auth,
    catalog,
    devices,
    incidents,
    ledger,
    notifications,
    orgs,
    packs,
    risk,
    sensors,
    stream,
    system,
    telemetry,
    tiers,
    users,
)
from hazwatch.catalog.errors import CatalogError
from hazwatch.domain.errors import ServiceError, TooMany, Unavailable
from hazwatch.packs import PackError
from hazwatch.services import Services
from hazwatch.settings import Settings

PREFIX = "/api/v1"


class Health(BaseModel):
    status: Literal["ok"]
    version: str


def _cache(api: FastAPI) -> dict:
    api.openapi_schema = build_openapi(api)
    return api.openapi_schema


ROUTERS = (auth.router, orgs.router, users.router, catalog.router, devices.router, telemetry.router, sensors.router,
           alarms.router, incidents.router, notifications.router, risk.router, audit.router, ledger.router,
           system.router, stream.router, tiers.router, packs.router)
# scale-out nodes answer only for what they do (plus /healthz, /readyz and /metrics)
ROLE_ROUTERS = {"ingest": (auth.router, telemetry.router, system.router), "worker": (auth.router, system.router)}


class Ready(BaseModel):
    ready: bool
    detail: str


def _principal_key(services: Services):
    """Who a bearer credential is, from the credential cache only (no I/O on the event loop)."""
    def key(token: str) -> str | None:
        p = services.auth.cached(token) if token else None
        if p is None:
            return None
        return f"user:{p.user_id}" if p.user_id is not None else f"device:{p.device_id}"
    return key


def create_api(services: Services | None = None, routers: tuple | None = None) -> FastAPI:
    settings = services.settings if services is not None else Settings()
    api = FastAPI(
        title="Hazwatch API",
        version=__version__,
        description="Industrial-internet safety production: telemetry in, limits and alarms (ISA-18.2) out. "
                    "Every call but login and /healthz needs `Authorization: Bearer <token>`. Each operation "
                    "names the permission it needs in `x-permission`; docs/security.md has the role table.",
        default_response_class=JSON,
        # The interactive docs pages load their scripts from a CDN; plants are offline, so they are off.
        docs_url=None, redoc_url=None,
    )
    api.state.services = services
    for r in routers or ROUTERS:
        api.include_router(r, prefix=PREFIX)
    api.include_router(system.public)  # /metrics
    if routers is None:
        api.include_router(ledger.public)  # tlog-tiles paths are fixed by the spec: <prefix>/checkpoint, /tile/
        web.mount(api)  # the console at /console/

    @api.exception_handler(ServiceError)
    async def service_error(_request: Request, exc: ServiceError) -> JSON:
        headers = ({"Retry-After": str(max(1, round(exc.retry_after)))} if isinstance(exc, TooMany)
                   else {"Retry-After": "2"} if isinstance(exc, Unavailable) else None)
        return JSON({"detail": exc.message}, status_code=exc.status, headers=headers)

    for kind in storage.FAILURES:
        @api.exception_handler(kind)
        async def storage_failure(_request: Request, exc: Exception) -> JSON:
            got = storage.answer(exc)
            if got is None:
                raise exc
            return got

    @api.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSON:
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))}
                  for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors)
        return JSON({"detail": detail or "invalid request", "errors": errors}, status_code=422)

    @api.exception_handler(DataError)
    async def unstorable(_request: Request, exc: DataError) -> JSON:
        # e.g. a NUL character, which PostgreSQL text cannot hold; the transaction has rolled back
        reason = str(exc.orig).splitlines()[0] if exc.orig else "value out of range"
        return JSON({"detail": f"a value in the request cannot be stored: {reason}"}, status_code=422)

    @api.exception_handler(PackError)
    async def pack_error(_request: Request, exc: PackError) -> JSON:
        shown = "; ".join(exc.problems[:3]) + (f"; and {len(exc.problems) - 3} more" if len(exc.problems) > 3 else "")
        return JSON({"detail": f"pack refused, nothing applied: {shown}", "problems": exc.problems}, status_code=422)

    @api.exception_handler(CatalogError)
    async def catalog_error(_request: Request, exc: CatalogError) -> JSON:
        shown = "; ".join(exc.problems[:3]) + (f"; and {len(exc.problems) - 3} more" if len(exc.problems) > 3 else "")
        return JSON({"detail": f"catalog refused, nothing applied: {shown}", "problems": exc.problems},
                    status_code=422)

    @api.get("/healthz", tags=["system"], summary="Liveness probe (no token needed)", response_model=Health,
             openapi_extra={"x-permission": "public"})
    def healthz() -> Health:
        return Health(status="ok", version=__version__)

    @api.get("/readyz", tags=["system"], summary="Readiness probe (no token needed)", response_model=Ready,
             openapi_extra={"x-permission": "public"}, responses={503: {"model": Ready}})
    def readyz() -> JSON:
        ok, detail = services.ready() if services is not None else (False, "no services")
        return JSON({"ready": ok, "detail": detail}, status_code=200 if ok else 503)

    api.openapi = lambda: api.openapi_schema or _cache(api)  # type: ignore[method-assign]

    # The last added runs first: security headers wrap everything, the limits' own refusals included.
    if settings.cors_origins:
        api.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    api.add_middleware(RateLimit, rate=settings.rate_limit_rps, burst=settings.rate_limit_burst,
                       strict_paths=(f"{PREFIX}/auth/token",), strict_rate=settings.login_rate_limit_rps,
                       strict_burst=settings.login_rate_limit_burst,
                       principal_of=_principal_key(services) if services is not None else None)
    api.add_middleware(BodyLimit, default=settings.max_request_bytes, large=settings.max_body_bytes,
                       large_paths=(f"{PREFIX}/telemetry", f"{PREFIX}/catalog"))
    api.add_middleware(SecurityHeaders)
    return api
