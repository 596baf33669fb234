"""WebSocket /api/v1/stream: live alarm changes and sensor values.

Messages: {"type": "alarm", "event": "raised", "alarm": {...}} and
{"type": "values", "sensor": [...], "ts": [...], "value": [...]} (the newest reading of each sensor
in a stored batch). The token comes in the Authorization header or as `?token=` for browsers.
`?values=false` leaves the value messages out: an annunciator or a bridge that forwards alarms
need not decode a message per stored batch.
A client that cannot keep up loses value messages, never the connection of others."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from hazwatch.access import Access
from hazwatch.api.deps import authenticate
from hazwatch.auth.roles import READ, allowed
from hazwatch.domain.batch import US
from hazwatch.domain.events import ALARM_CHANGED, READINGS_STORED, AlarmChanged, ReadingsStored
from hazwatch.domain.text import a

router = APIRouter(tags=["stream"])
QUEUE_SIZE = 1000


@router.websocket("/stream")
async def stream(ws: WebSocket) -> None:
    services = ws.app.state.services
    header = ws.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ws.query_params.get("token")
    try:
        user = authenticate(services, token)
    except Exception:
        await ws.close(code=4401, reason="missing or invalid API token")
        return
    if not allowed(user.role, READ):
        await ws.close(code=4403, reason=f"{a(user.role)} may not read the stream")
        return
    scope = Access(services, user).scope
    with_values = ws.query_params.get("values", "true").lower() not in ("false", "0", "no")
    await ws.accept()
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
    def offer(msg: bytes) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            q.put_nowait(msg)

    def on_event(subject: str, event) -> None:  # runs on the writer thread
        index = services.index
        if isinstance(event, AlarmChanged):
            sid = index.tag_to_id.get(event.alarm.get("sensor") or "")
            dev = index.devices.get(event.alarm.get("device") or "")
            org = int(index.org_id[sid]) if sid is not None else (dev[2] if dev else None)
            if org is not None and scope.allows(org):
                msg = orjson.dumps({"type": "alarm", "event": event.event, "alarm": event.alarm})
                loop.call_soon_threadsafe(offer, msg)
        elif isinstance(event, ReadingsStored):
            b = event.batch
            rows = b.newest_per_sensor()
            rows = rows[scope.mask(index.org_id[b.sensor[rows]])]
            if len(rows):
                msg = orjson.dumps({"type": "values", "sensor": index.tags[b.sensor[rows]].tolist(),
                                    "ts": (b.ts[rows] / US).tolist(), "value": b.value[rows].tolist()})
                loop.call_soon_threadsafe(offer, msg)

    unsubs = [services.bus.subscribe(ALARM_CHANGED, on_event)]
    if with_values:
        unsubs.append(services.bus.subscribe(READINGS_STORED, on_event))

    async def pump() -> None:
        while True:
            await ws.send_text((await q.get()).decode())

    sender = asyncio.create_task(pump())
    try:
        while True:
            await ws.receive_text()  # clients may ping; the stream is one-way
    except WebSocketDisconnect:
        pass
    finally:
        for u in unsubs:
            u()
        sender.cancel()
