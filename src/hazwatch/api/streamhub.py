"""The live stream's fan-out, off the writer thread. The writer's bus callback only drops the event
into a queue (constant time, however many consoles are open). One hub thread takes each event once:
an alarm change goes to every socket whose scope holds it at once; a stored batch only updates the
newest value per sensor (numpy, per batch), and every `interval_s` one value message per scope
carries what changed, shared by the sockets of that scope. A console shows a value a person can
read, not every reading: at a million readings a second the sockets still get two messages a
second, not a hundred. A hub that falls behind drops batches, never alarm changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import orjson

from hazwatch.auth.scope import Scope
from hazwatch.domain.batch import US
from hazwatch.domain.events import ALARM_CHANGED, READINGS_STORED, AlarmChanged, ReadingsStored

log = logging.getLogger(__name__)
QUEUE_SIZE = 1000  # per socket, messages
# An alarm change goes to the sockets as soon as the hub has it. A batch socket (`?batch=true`, the
# console's) gets it at once too, unless its last frame went less than this ago: then it waits for
# the rest of it with whatever else comes, so that in an alarm flood it gets ten frames a second,
# not one per change, while a lone alarm is not held back. A plain socket asked for one message per
# change and gets each at once (an API client's alert latency, bench/nodered.py).
HAND_GAP_S = 0.1
HUB_QUEUE = 16  # value events waiting for the hub (each holds its batch: the bound is memory too)


@dataclass(eq=False)
class Subscriber:
    scope: Scope
    with_values: bool
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[bytes]
    batch: bool = False  # one frame {"type": "batch", "messages": [...]} per hand-over

    def offer(self, msgs: list[bytes]) -> None:  # on the event loop
        if self.batch:
            msgs = [b'{"type":"batch","messages":[' + b",".join(msgs) + b"]}"]
        with contextlib.suppress(asyncio.QueueFull):
            for msg in msgs:
                self.queue.put_nowait(msg)


class StreamHub:
    def __init__(self, bus, index: Callable, interval_s: float = 0.5) -> None:
        self.bus, self.index, self.interval_s = bus, index, interval_s
        self._ts = np.zeros(0, np.int64)  # the newest reading per sensor id since the last flush
        self._value = np.zeros(0)
        self._dirty = np.zeros(0, bool)
        self._subs: set[Subscriber] = set()
        self._per_principal: dict[str, int] = {}
        self._lock = threading.Lock()
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._waiting_values = 0  # value events queued; two threads change it, under _count_lock
        self._count_lock = threading.Lock()
        self._unsubs: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self.dropped = 0

    # -- sockets (event loop) -------------------------------------------------------------------------
    def join(self, principal: str, limit: int, scope: Scope, with_values: bool,
             batch: bool = False) -> Subscriber | None:
        """A subscriber for one socket, or None when the principal holds `limit` already."""
        with self._lock:
            if self._per_principal.get(principal, 0) >= limit:
                return None
            self._per_principal[principal] = self._per_principal.get(principal, 0) + 1
            sub = Subscriber(scope, with_values, asyncio.get_running_loop(), asyncio.Queue(QUEUE_SIZE), batch)
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
            with self._count_lock:
                if self._waiting_values >= HUB_QUEUE:  # the hub is behind: values go, alarm changes never do
                    self.dropped += 1
                    return
                self._waiting_values += 1
        self._events.put_nowait(event)  # unbounded: never blocks the writer

    # -- the hub thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:  # nothing may end the hub: every console's stream hangs on it
            try:
                self._serve()
            except Exception:
                log.exception("live-stream hub: restarting after an error")

    def _serve(self) -> None:
        next_flush = time.monotonic() + self.interval_s
        last_alarms = 0.0  # when alarm changes last went out
        out: dict[Subscriber, list[bytes]] = {}
        alarms = False  # alarm changes wait in `out`
        while True:
            events: list = []
            until = min(next_flush, last_alarms + HAND_GAP_S) if alarms else next_flush
            try:
                events.append(self._events.get(timeout=max(0.0, until - time.monotonic())))
                while len(events) < 1000:  # what waits is taken together: one hand-over per socket
                    events.append(self._events.get_nowait())
            except queue.Empty:
                pass
            for event in events:
                try:
                    if isinstance(event, ReadingsStored):
                        with self._count_lock:
                            self._waiting_values -= 1
                        self._note(event.batch)
                    elif isinstance(event, AlarmChanged):
                        alarms = self._alarm(event, out) or alarms
                except Exception:  # a bad event must not end every console's stream
                    continue
            flushed = False
            if time.monotonic() >= next_flush:
                next_flush = time.monotonic() + self.interval_s
                flushed = True
                with contextlib.suppress(Exception):
                    self._flush(out)
            now = time.monotonic()
            # values go at once; alarm changes at once unless others went to the batch sockets
            # within the gap (then those wait, values with them; plain sockets get theirs now)
            if out and ((alarms and now >= last_alarms + HAND_GAP_S) or (flushed and not alarms)):
                if alarms:
                    last_alarms, alarms = now, False
                for sub, msgs in out.items():
                    sub.loop.call_soon_threadsafe(sub.offer, msgs)
                out = {}
            elif alarms:
                for sub in [sub for sub in out if not sub.batch]:
                    sub.loop.call_soon_threadsafe(sub.offer, out.pop(sub))
                alarms = any(sub.batch for sub in out)

    def _alarm(self, event: AlarmChanged, out: dict[Subscriber, list[bytes]]) -> bool:
        """An alarm change for every socket whose scope holds its org; whether any socket gets it."""
        org = event.org_id  # a unit's or a rule's alarm as well as a sensor's or a device's
        if org is None:
            return False
        msg = orjson.dumps({"type": "alarm", "event": event.event, "alarm": event.alarm})
        sent = False
        for sub in self._subs:
            if sub.scope.allows(org):
                out.setdefault(sub, []).append(msg)
                sent = True
        return sent

    def _note(self, batch) -> None:
        """Keep the newest value of each sensor the batch touched: a few numpy operations per batch,
        however many consoles are open."""
        n = self.index().size
        if len(self._dirty) < n:
            grow = n - len(self._dirty)
            self._ts = np.concatenate((self._ts, np.zeros(grow, np.int64)))
            self._value = np.concatenate((self._value, np.zeros(grow)))
            self._dirty = np.concatenate((self._dirty, np.zeros(grow, bool)))
        rows = batch.newest_per_sensor()
        ids = batch.sensor[rows]
        ids, rows = ids[ids < n], rows[ids < n]
        self._ts[ids], self._value[ids], self._dirty[ids] = batch.ts[rows], batch.value[rows], True

    def _flush(self, out: dict[Subscriber, list[bytes]]) -> None:
        """One value message per scope for everything that changed since the last flush; sockets of
        one scope (a control room's screens) share it."""
        ids = np.flatnonzero(self._dirty)
        if not len(ids):
            return
        self._dirty[ids] = False
        index = self.index()
        ids = ids[ids < index.size]
        orgs = index.org_id[ids]
        groups: dict[frozenset[int] | None, list[Subscriber]] = {}
        for sub in self._subs:
            if sub.with_values:
                groups.setdefault(sub.scope.org_ids, []).append(sub)
        for members in groups.values():
            sel = ids[members[0].scope.mask(orgs)]
            if not len(sel):
                continue
            msg = orjson.dumps({"type": "values", "sensor": index.tags[sel].tolist(),
                                "ts": (self._ts[sel] / US).tolist(), "value": self._value[sel].tolist()})
            for sub in members:
                out.setdefault(sub, []).append(msg)
