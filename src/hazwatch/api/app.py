"""FastAPI application factory: routers under /api/v1, errors as {"detail": "..."}."""

from __future__ import annotations

from fastapi import FastAPI

from hazwatch import __version__
from hazwatch.api.responses import JSON
from hazwatch.api.routers import alarms, sensors, stream, telemetry
from hazwatch.services import Services

PREFIX = "/api/v1"


def create_api(services: Services | None = None) -> FastAPI:
    api = FastAPI(
        title="Hazwatch API",
        version=__version__,
        description="Industrial-internet safety production: telemetry in, limits and alarms (ISA-18.2) out. "
                    "Every call needs `Authorization: Bearer <token>`.",
        default_response_class=JSON,
    )
    api.state.services = services
    for r in (telemetry.router, sensors.router, alarms.router, stream.router):
        api.include_router(r, prefix=PREFIX)

    @api.get("/healthz", tags=["system"], summary="Liveness probe (no token needed)")
    def healthz() -> dict:
        return {"status": "ok", "version": __version__}

    return api
