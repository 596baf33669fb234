"""The bus on NATS JetStream, for the scale-out mode: the same contract as the in-process bus
(`Bus`), so the stages do not change. Events are published to a persistent stream (subjects
`<prefix>.<event subject>`) and acknowledged by the server before `publish` returns; each
`subscribe` is an ordered consumer of new events delivering to its handler on the bus's own
thread (handlers must be quick, as on every bus).

nats-py is asyncio; the bus runs its own event loop in a thread so that the synchronous stages
(the writer thread, the incident desk) can publish without an event loop of their own."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.js.api import DeliverPolicy, StreamConfig

from hazwatch.bus.base import Handler
from hazwatch.bus.codec import decode, encode
from hazwatch.bus.memory import InProcessBus

log = logging.getLogger(__name__)


class JetStreamBus:
    def __init__(self, url: str = "nats://127.0.0.1:4222", stream: str = "HZ_EVENTS", prefix: str = "hz.ev",
                 timeout_s: float = 5.0, max_age_s: float = 7 * 86400, local: frozenset[str] = frozenset(),
                 replicas: int = 1, startup_s: float = 60.0) -> None:
        """`local`: subjects kept in this process (a worker's stored batches: the telemetry stream
        already holds them, and the event stream is for what the other nodes act on). A cluster
        that is still electing its leaders is waited for, up to `startup_s`."""
        self.stream, self.prefix, self.timeout_s = stream, prefix, timeout_s
        self.local = InProcessBus() if local else None
        self._local_subjects = local
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hazwatch-bus", daemon=True)
        self._thread.start()
        self._run(self._connect(url))
        config = StreamConfig(name=self.stream, subjects=[f"{self.prefix}.>"], max_age=max_age_s,
                              num_replicas=replicas)
        deadline = time.monotonic() + startup_s
        while True:
            try:
                self._run(self._ensure(config))
                break
            except (TimeoutError, nats.errors.Error, nats.js.errors.Error) as e:
                if time.monotonic() > deadline:
                    raise
                log.warning("event stream %s not ready yet (%s); trying again", self.stream, e or type(e).__name__)
                time.sleep(0.5)

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout_s)

    async def _connect(self, url: str) -> None:
        self._nc = await nats.connect(servers=[u.strip() for u in url.split(",")], connect_timeout=self.timeout_s,
                                      max_reconnect_attempts=-1)
        self._js = self._nc.jetstream(timeout=self.timeout_s)

    async def _ensure(self, config: StreamConfig) -> None:
        try:
            await self._js.add_stream(config)
        except nats.js.errors.BadRequestError:  # exists with another config: keep it
            await self._js.update_stream(config)

    def _subject(self, subject: str) -> str:
        return f"{self.prefix}.>" if subject == "*" else f"{self.prefix}.{subject}"

    def publish(self, subject: str, event: Any) -> None:
        """Durable in the stream when this returns (the server acknowledged it)."""
        if subject in self._local_subjects:
            self.local.publish(subject, event)
            return
        self._run(self._js.publish(self._subject(subject), encode(event)))

    def subscribe(self, subject: str, handler: Handler) -> Callable[[], None]:
        if subject in self._local_subjects:
            return self.local.subscribe(subject, handler)
        strip = len(self.prefix) + 1

        async def on_message(msg) -> None:
            try:
                handler(msg.subject[strip:], decode(msg.data))
            except Exception:  # a subscriber's failure is its own
                log.exception("bus handler failed on %s", msg.subject)

        sub = self._run(self._js.subscribe(self._subject(subject), cb=on_message, ordered_consumer=True,
                                           deliver_policy=DeliverPolicy.NEW))
        done = threading.Event()

        def unsubscribe() -> None:
            if done.is_set():
                return
            done.set()
            self._run(sub.unsubscribe())

        return unsubscribe

    def has_subscribers(self, subject: str) -> bool:
        """Subscribers anywhere may be listening: a remote bus always publishes."""
        if subject in self._local_subjects:
            return self.local.has_subscribers(subject)
        return True

    def stored(self) -> int:
        """Events held in the stream (what a late consumer could still read)."""
        return self._run(self._js.stream_info(self.stream)).state.messages

    def delete_stream(self) -> None:
        self._run(self._js.delete_stream(self.stream))

    def close(self) -> None:
        try:
            self._run(self._shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    async def _shutdown(self) -> None:
        await self._nc.drain()
        # the client's own watchers (flow control, heartbeats) end with their subscriptions
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
