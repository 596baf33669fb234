"""FastAPI application factory: routers under /api/v1, errors as {"detail": "..."}, and the
hardening every answer gets (security headers, size and rate limits, CORS closed unless asked)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from hazwatch import __version__
from hazwatch.api.middleware import BodyLimit, RateLimit, SecurityHeaders
from hazwatch.api.responses import JSON
from hazwatch.api.routers import alarms, audit, auth, catalog, devices, orgs, sensors, stream, telemetry, users
from hazwatch.catalog.errors import CatalogError
from hazwatch.domain.errors import ServiceError, TooMany
from hazwatch.services import Services
from hazwatch.settings import Settings

PREFIX = "/api/v1"
ROUTERS = (auth.router, orgs.router, users.router, catalog.router, devices.router, telemetry.router, sensors.router,
           alarms.router, audit.router, stream.router)


def create_api(services: Services | None = None) -> FastAPI:
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
    for r in ROUTERS:
        api.include_router(r, prefix=PREFIX)

    @api.exception_handler(ServiceError)
    async def service_error(_request: Request, exc: ServiceError) -> JSON:
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if isinstance(exc, TooMany) else None
        return JSON({"detail": exc.message}, status_code=exc.status, headers=headers)

    @api.exception_handler(CatalogError)
    async def catalog_error(_request: Request, exc: CatalogError) -> JSON:
        return JSON({"detail": f"catalog refused: {len(exc.problems)} problem(s)", "problems": exc.problems},
                    status_code=422)

    @api.get("/healthz", tags=["system"], summary="Liveness probe (no token needed)")
    def healthz() -> dict:
        return {"status": "ok", "version": __version__}

    # The last added runs first: security headers wrap everything, the limits' own refusals included.
    if settings.cors_origins:
        api.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type"])
    api.add_middleware(RateLimit, rate=settings.rate_limit_rps, burst=settings.rate_limit_burst)
    api.add_middleware(BodyLimit, default=settings.max_request_bytes, large=settings.max_body_bytes,
                       large_paths=(f"{PREFIX}/telemetry", f"{PREFIX}/catalog"))
    api.add_middleware(SecurityHeaders)
    return api
