"""WebSocket /api/v1/stream: live alarm changes and sensor values.

Messages: {"type": "alarm", "event": "raised", "alarm": {...}} (as soon as the stream has it) and
{"type": "values", "sensor": [...], "ts": [...], "value": [...]} (the newest reading of each sensor
that changed, every `stream_values_interval_s`). The token comes in the Authorization header or
as `?token=` for browsers.
`?values=false` leaves the value messages out: an annunciator or a bridge that forwards alarms
need not decode a message per stored batch. `?batch=true` sends what gathered since the socket's
last frame as one frame, `{"type": "batch", "messages": [...]}` (the console does): a lone alarm
change goes at once, and under an alarm flood a socket gets ten frames a second, not one per change.
A client that cannot keep up loses value messages, never the connection of others. The fan-out
runs on its own thread (api/streamhub.py), never the writer's; the credential is checked again
every `stream_recheck_s`, read once per token for all its sockets (a revoked or disabled one closes
the socket with 4401 within one and a half periods), and one principal
holds at most `stream_max_per_principal` sockets (one more closes with 4429)."""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from hazwatch.access import Access
from hazwatch.api.deps import authenticate
from hazwatch.api.streamhub import StreamHub
from hazwatch.auth.roles import READ, allowed
from hazwatch.domain.text import a

router = APIRouter(tags=["stream"])
log = logging.getLogger(__name__)


def hub_of(app) -> StreamHub:
    """One hub per application, made with its first socket."""
    hub = getattr(app.state, "stream_hub", None)
    if hub is None:
        services = app.state.services
        hub = app.state.stream_hub = StreamHub(services.bus, lambda: services.index,
                                               services.settings.stream_values_interval_s)
    return hub


class Rechecks:
    """One credential check per token and half period, shared by every socket that holds the token:
    a control room's twenty screens of one user cost two database reads per period, not twenty. An
    answer is at most half a period old when a socket acts on it, so a revoked credential's sockets
    close within one and a half periods (3 s by default)."""

    def __init__(self, services, period_s: float) -> None:
        self.services, self.period_s = services, period_s / 2
        self._last: dict[str, tuple[float, asyncio.Future]] = {}

    async def current(self, token: str):
        now = time.monotonic()
        hit = self._last.get(token)
        if hit is None or now - hit[0] >= self.period_s:
            fut = asyncio.ensure_future(run_in_threadpool(self.services.auth.current, token))
            self._last[token] = hit = (now, fut)
            if len(self._last) > 10_000:  # tokens of closed sockets: keep the table small
                self._last = {k: v for k, v in self._last.items() if now - v[0] < self.period_s}
        return await asyncio.shield(hit[1])


def rechecks_of(app) -> Rechecks:
    r = getattr(app.state, "stream_rechecks", None)
    if r is None:
        services = app.state.services
        r = app.state.stream_rechecks = Rechecks(services, services.settings.stream_recheck_s)
    return r


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

        rechecks = rechecks_of(ws.app)

        async def recheck() -> None:
            """The credential as the database has it now (read at most `stream_recheck_s` ago): a
            revoked key, an expired token or a disabled user ends the stream; so does a changed role
            or org (reconnect to rescope)."""
            while True:
                await asyncio.sleep(settings.stream_recheck_s)
                try:
                    now = await rechecks.current(token)
                except Exception:  # noqa: BLE001 - the database away: the next period asks again
                    log.warning("live stream: the credential check failed; trying again", exc_info=True)
                    continue
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
