"""WebSocket /api/v1/stream: live alarm changes and sensor values.

Messages: {"type": "alarm", "event": "raised", "alarm": {...}} (within a tenth of a second) and
{"type": "values", "sensor": [...], "ts": [...], "value": [...]} (the newest reading of each sensor
that changed, every `stream_values_interval_s`). The token comes in the Authorization header or
as `?token=` for browsers.
`?values=false` leaves the value messages out: an annunciator or a bridge that forwards alarms
need not decode a message per stored batch. `?batch=true` sends what gathered in each tenth of a
second as one frame, `{"type": "batch", "messages": [...]}` (the console does): under an alarm flood
a socket gets ten frames a second, not hundreds.
A client that cannot keep up loses value messages, never the connection of others. The fan-out
runs on its own thread (api/streamhub.py), never the writer's; the credential is checked again
every `stream_recheck_s` (a revoked or disabled one closes the socket with 4401), and one principal
holds at most `stream_max_per_principal` sockets (one more closes with 4429)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from hazwatch.access import Access
from hazwatch.api.deps import authenticate
from hazwatch.api.streamhub import StreamHub
from hazwatch.auth.roles import READ, allowed
from hazwatch.domain.text import a

router = APIRouter(tags=["stream"])


def hub_of(app) -> StreamHub:
    """One hub per application, made with its first socket."""
    hub = getattr(app.state, "stream_hub", None)
    if hub is None:
        services = app.state.services
        hub = app.state.stream_hub = StreamHub(services.bus, lambda: services.index,
                                               services.settings.stream_values_interval_s)
    return hub


@router.websocket("/stream")
async def stream(ws: WebSocket) -> None:
    services = ws.app.state.services
    settings = services.settings
    header = ws.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ws.query_params.get("token")
    try:
        user = await run_in_threadpool(authenticate, services, token)
    except Exception:
        await ws.close(code=4401, reason="missing or invalid API token")
        return
    if not allowed(user.role, READ):
        await ws.close(code=4403, reason=f"{a(user.role)} may not read the stream")
        return
    scope = Access(services, user).scope
    with_values = ws.query_params.get("values", "true").lower() not in ("false", "0", "no")
    batch = ws.query_params.get("batch", "false").lower() in ("true", "1", "yes")
    hub = hub_of(ws.app)
    who = f"user:{user.user_id}" if user.user_id is not None else f"device:{user.device_id}"
    sub = hub.join(who, settings.stream_max_per_principal, scope, with_values, batch)
    if sub is None:  # accepted first, so that a browser sees the code and the reason
        await ws.accept()
        await ws.close(code=4429, reason=f"at most {settings.stream_max_per_principal} live streams at once")
        return
    try:
        await ws.accept()

        async def pump() -> None:
            while True:
                await ws.send_text((await sub.queue.get()).decode())

        async def recheck() -> None:
            """The credential as the database has it now: a revoked key, an expired token or a
            disabled user ends the stream; so does a changed role or org (reconnect to rescope)."""
            while True:
                await asyncio.sleep(settings.stream_recheck_s)
                now = await run_in_threadpool(services.auth.current, token)
                if now is None or (now.role, now.org_id) != (user.role, user.org_id):
                    await ws.close(code=4401, reason="the credential was revoked, expired or changed")
                    return

        tasks = [asyncio.create_task(pump()), asyncio.create_task(recheck())]
        try:
            while True:
                await ws.receive_text()  # clients may ping; the stream is one-way
        except WebSocketDisconnect:
            pass
        finally:
            for t in tasks:
                t.cancel()
    finally:
        hub.leave(who, sub)
