"""Which API node runs what an installation runs once: the incident desk, notifications, reports,
the feed and the tier links. The candidates (API nodes with HAZWATCH_SINGLETONS, the default)
compete for the key `singleton` in the lease bucket exactly as workers do for partitions: whoever
creates it runs them and rewrites it every ttl/3; when it stops renewing (killed, cut off), the
key lapses after the ttl and another candidate takes over.

The services it starts keep their state in the database (the desk scans the active alarms every
tick), so the new holder resumes where the old one stopped. A holder that cannot renew for a whole
ttl stops them itself, so that two nodes do not run them at once for longer than a renewal period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import nats.js.errors

from hazwatch.scale.leases import open_bucket
from hazwatch.scale.loop import NatsLoop

log = logging.getLogger(__name__)
KEY = "singleton"


class Election(NatsLoop):
    def __init__(self, url: str, node: str, ttl_s: float, replicas: int, on_elected: Callable[[], None],
                 on_deposed: Callable[[], None]) -> None:
        super().__init__("hazwatch-election")
        self.url, self.node, self.ttl_s, self.replicas = url, node, ttl_s, replicas
        self.interval_s = ttl_s / 3
        self.on_elected, self.on_deposed = on_elected, on_deposed
        self.held = False
        self._rev: int | None = None
        self._renewed = 0.0

    async def _open(self, js) -> None:
        self._kv = await open_bucket(js, self.ttl_s, self.replicas)

    async def _step(self) -> None:
        if self.held and time.monotonic() - self._renewed > self.ttl_s:
            log.warning("could not renew the singleton lease for %.0f s; stopping the singletons", self.ttl_s)
            await self._depose()
        if self._rev is not None:
            try:
                self._rev = await self._kv.update(KEY, self.node.encode(), last=self._rev)
                self._renewed = time.monotonic()
                if not self.held:  # renewed after a cut that outlasted the ttl but not the lease
                    await self._elect()
                return
            except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
                log.warning("singleton lease lost")
                self._rev = None
                await self._depose()
        try:
            self._rev = await self._kv.create(KEY, self.node.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            return  # another node runs them
        self._renewed = time.monotonic()
        await self._elect()

    async def _elect(self) -> None:
        log.info("%s runs the installation's singletons", self.node)
        self.held = True
        await asyncio.to_thread(self.on_elected)

    async def _depose(self) -> None:
        if self.held:
            self.held = False
            await asyncio.to_thread(self.on_deposed)

    async def _finish(self) -> None:
        await self._depose()
        if self._rev is not None:
            with contextlib.suppress(Exception):  # hand it over at once rather than after the ttl
                await self._kv.delete(KEY, last=self._rev)
