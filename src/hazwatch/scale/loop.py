"""A NATS client on an asyncio loop of its own thread, for a service that the synchronous server
starts and stops (the tier links, the election): connect, open, then one step per interval until
stopped, riding out NATS errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import nats.errors
import nats.js.errors

from hazwatch.scale import stream

log = logging.getLogger(__name__)


class NatsLoop:
    url: str
    interval_s: float

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._stop = asyncio.Event()  # bound to the loop at first use (on the loop's thread)

    def start(self) -> None:
        self._stop = asyncio.Event()  # a service may be started again after a stop
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._guarded(),),
                                        name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        self._thread = None

    async def _guarded(self) -> None:
        nc, opened = None, False
        while not self._stop.is_set():
            try:
                if nc is None:
                    nc = await stream.connect(self.url, self._name, timeout_s=3)
                if not opened:
                    await self._open(nc.jetstream(timeout=5))
                    opened = True
                await self._step()
            except (OSError, nats.errors.Error, nats.js.errors.Error, TimeoutError) as e:
                log.warning("%s: %s; trying again", self._name, e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)
        try:
            await self._finish()
        finally:
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.close()

    async def _open(self, js) -> None:
        """Once connected (again, after an error in it)."""

    async def _step(self) -> None:
        """Every interval."""

    async def _finish(self) -> None:
        """When stopping, still connected."""
