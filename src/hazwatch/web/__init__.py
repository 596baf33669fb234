"""The web console: a single page served by Hazwatch itself, with its third-party assets (uPlot)
installed from web/package-lock.json (`npm ci --prefix web`), never fetched from a CDN: plants
are offline. The page talks to the same API and WebSocket as every other client; it holds no
business logic of its own."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
# the console may load only what Hazwatch serves, and talk only to Hazwatch
CSP = (b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
       b"connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def vendor_dir() -> Path:
    """Where `npm ci --prefix web` put the assets: HAZWATCH_WEB_ASSETS, else web/node_modules of
    the source tree this package runs from."""
    env = os.environ.get("HAZWATCH_WEB_ASSETS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "web" / "node_modules"


class _Console(StaticFiles):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_policy(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"content-security-policy", CSP),
                                      (b"cache-control", b"no-cache")]
            await send(message)

        await super().__call__(scope, receive, with_policy)


def mount(api: FastAPI) -> None:
    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    uplot = vendor_dir() / "uplot" / "dist"
    if uplot.is_dir():
        api.mount("/console/vendor/uplot", _Console(directory=uplot), name="console-vendor")
    else:
        @api.get("/console/vendor/{path:path}", include_in_schema=False)
        def missing(path: str) -> PlainTextResponse:
            return PlainTextResponse(f"the console's assets are not installed: run `npm ci --prefix web` "
                                     f"(looked in {uplot})", status_code=503)
    api.mount("/console", _Console(directory=STATIC, html=True), name="console")
