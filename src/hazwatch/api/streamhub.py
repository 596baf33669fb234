"""The live stream's fan-out, off the writer thread. The writer's bus callback only drops the event
into a bounded queue (constant time, however many consoles are open); one hub thread takes each
event once, works out the part of it each socket's scope may see (the newest reading per sensor is
found once per batch, not once per socket) and hands each socket its message on the event loop.
A hub that falls behind drops value messages, never alarm changes."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from hazwatch.auth.scope import Scope
from hazwatch.domain.batch import US
from hazwatch.domain.events import ALARM_CHANGED, READINGS_STORED, AlarmChanged, ReadingsStored

QUEUE_SIZE = 1000  # per socket, messages
HUB_QUEUE = 256  # value events waiting for the hub


@dataclass(eq=False)
class Subscriber:
    scope: Scope
    with_values: bool
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[bytes]

    def offer(self, msg: bytes) -> None:  # on the event loop
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(msg)


class StreamHub:
    def __init__(self, bus, index: Callable) -> None:
        self.bus, self.index = bus, index
        self._subs: set[Subscriber] = set()
        self._per_principal: dict[str, int] = {}
        self._lock = threading.Lock()
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._waiting_values = 0  # value events queued (an approximate count is enough to bound them)
        self._unsubs: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self.dropped = 0

    # -- sockets (event loop) -------------------------------------------------------------------------
    def join(self, principal: str, limit: int, scope: Scope, with_values: bool) -> Subscriber | None:
        """A subscriber for one socket, or None when the principal holds `limit` already."""
        with self._lock:
            if self._per_principal.get(principal, 0) >= limit:
                return None
            self._per_principal[principal] = self._per_principal.get(principal, 0) + 1
            sub = Subscriber(scope, with_values, asyncio.get_running_loop(), asyncio.Queue(QUEUE_SIZE))
            self._subs = self._subs | {sub}  # replaced, not changed: the hub thread iterates a snapshot
            if not self._unsubs:
                self._unsubs = [self.bus.subscribe(ALARM_CHANGED, self._on_event),
                                self.bus.subscribe(READINGS_STORED, self._on_event)]
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="stream-hub", daemon=True)
                    self._thread.start()
        return sub

    def leave(self, principal: str, sub: Subscriber) -> None:
        with self._lock:
            self._subs = self._subs - {sub}
            left = self._per_principal.get(principal, 1) - 1
            if left:
                self._per_principal[principal] = left
            else:
                self._per_principal.pop(principal, None)
            if not self._subs:  # nobody watches: the writer publishes to no one again
                for u in self._unsubs:
                    u()
                self._unsubs = []

    # -- the writer's side: constant time -------------------------------------------------------------
    def _on_event(self, _subject: str, event) -> None:
        if isinstance(event, ReadingsStored):
            if self._waiting_values >= HUB_QUEUE:  # the hub is behind: values go, alarm changes never do
                self.dropped += 1
                return
            self._waiting_values += 1
        self._events.put_nowait(event)  # unbounded: never blocks the writer

    # -- the hub thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            event = self._events.get()
            if isinstance(event, ReadingsStored):
                self._waiting_values -= 1
            try:
                self._fan_out(event)
            except Exception:  # a bad event must not end every console's stream
                continue

    def _fan_out(self, event) -> None:
        subs, index = self._subs, self.index()
        if isinstance(event, AlarmChanged):
            sid = index.tag_to_id.get(event.alarm.get("sensor") or "")
            dev = index.devices.get(event.alarm.get("device") or "")
            org = int(index.org_id[sid]) if sid is not None else (dev[2] if dev else None)
            if org is None:
                return
            msg = orjson.dumps({"type": "alarm", "event": event.event, "alarm": event.alarm})
            for sub in subs:
                if sub.scope.allows(org):
                    sub.loop.call_soon_threadsafe(sub.offer, msg)
        elif isinstance(event, ReadingsStored):
            watching = [s for s in subs if s.with_values]
            if not watching:
                return
            b = event.batch
            newest = b.newest_per_sensor()
            orgs = index.org_id[b.sensor[newest]]
            for sub in watching:
                rows = newest[sub.scope.mask(orgs)]
                if len(rows):
                    msg = orjson.dumps({"type": "values", "sensor": index.tags[b.sensor[rows]].tolist(),
                                        "ts": (b.ts[rows] / US).tolist(), "value": b.value[rows].tolist()})
                    sub.loop.call_soon_threadsafe(sub.offer, msg)
