"""An ingest node: the HTTP and MQTT edges as on a single server, but a request's readings go to
the telemetry stream instead of a local store. They are validated here against the catalog
(unknown sensors, ranges, clocks, duplicates within the request), split by partition and published;
the request is answered only when JetStream has acknowledged every part, so an accepted reading is
durable (replicated on a cluster) before the sender hears so.

Readings outside their instrument's range are refused here and still published: the worker's
quality monitor raises the sensor-fault alarm from them, as on a single server. A reading already
stored by a worker (a device that sends again) cannot be known here; the worker drops it (counted
as hazwatch_readings{result="rejected"} on the worker).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import uuid
from concurrent.futures import Future

import nats.errors
import nats.js.errors
import numpy as np

from hazwatch import metrics
from hazwatch.alarms.manager import AlarmCommandError
from hazwatch.catalog import CatalogRepository, SensorIndex
from hazwatch.domain import Clock, Rejection
from hazwatch.domain.batch import IngestResult
from hazwatch.domain.errors import Unavailable
from hazwatch.normalize import NO_HISTORY, Normalizer, RawBatch
from hazwatch.scale import partitions, stream, wire

log = logging.getLogger(__name__)
OUT_OF_RANGE = "outside the instrument range"


class IngestNode:
    """Stands where the pipeline stands for the edges (`ingest`, `device_status`, `index`)."""

    def __init__(self, engine, catalog: CatalogRepository, clock: Clock, bus, nats_url: str, node: str,
                 count: int, replicas: int, future_tolerance_s: float = 300.0, tick_interval_s: float = 1.0,
                 timeout_s: float = 10.0) -> None:
        self.engine, self.catalog, self.clock, self.bus = engine, catalog, clock, bus
        self.nats_url, self.node, self.count, self.replicas = nats_url, node, count, replicas
        self.tick_interval_s, self.timeout_s = tick_interval_s, timeout_s
        self.index = SensorIndex.load(engine)
        self.normalizer = Normalizer(NO_HISTORY, future_tolerance_s)  # duplicates of stored ones: the worker drops them
        # message ids for JetStream's duplicate window: unique across restarts of a node with the same
        # name, or the first batches after a quick restart would be taken for repeats and dropped
        self._run = uuid.uuid4().hex[:12]
        self._ids = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._js = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop.run_forever, name="hazwatch-ingest", daemon=True)
        self._thread.start()
        # a cluster still electing its leaders is waited out (stream.ensure), a dead one is not
        asyncio.run_coroutine_threadsafe(self._connect(), self._loop).result(self.timeout_s + 60)

    async def _connect(self) -> None:
        self._nc = await stream.connect(self.nats_url, f"hazwatch-ingest-{self.node}", self.timeout_s)
        self._js = self._nc.jetstream(timeout=self.timeout_s)
        await stream.ensure(self._js, self.replicas)
        self._ticker = asyncio.create_task(self._follow_catalog())
        self._ready.set()

    def stop(self) -> None:
        if self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(self.timeout_s)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._thread = None

    async def _shutdown(self) -> None:
        self._ticker.cancel()
        await self._nc.drain()

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self._nc.is_connected

    def readiness(self) -> tuple[bool, str]:
        return (True, "publishing") if self.ready else (False, "not connected to NATS")

    def latest(self, sensor: int) -> tuple[int, float] | None:
        return None  # an ingest node keeps no values: the API nodes and workers do

    def alarm_command(self, alarm_id: int, action: str, actor: str, comment: str | None = None,
                      minutes: float | None = None, max_minutes: float = 1440, audit=None) -> Future:
        raise AlarmCommandError(503, "an ingest node serves no alarm commands: send them to an API node")

    def queued(self) -> int:
        return 0

    def reload_catalog(self) -> None:
        self.index = SensorIndex.load(self.engine)

    async def _follow_catalog(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval_s)
            try:
                if await asyncio.to_thread(self.catalog.revision) != self.index.revision:
                    await asyncio.to_thread(self.reload_catalog)
            except Exception:
                log.exception("catalog reload failed")

    # -- the edges' calls --------------------------------------------------------------------------
    def ingest(self, raw: RawBatch) -> Future:
        return asyncio.run_coroutine_threadsafe(self._ingest(raw), self._loop)

    async def _ingest(self, raw: RawBatch) -> IngestResult:
        started = time.perf_counter()
        index = self.index
        _, reasons = self.normalizer.validate(raw, index, self.clock.now_us())
        send = np.ones(len(raw), bool)
        refused = [i for i, r in reasons.items() if OUT_OF_RANGE not in r]
        send[refused] = False
        pos = np.flatnonzero(send)
        part = partitions.of_orgs(index.org_id[raw.sensor[pos]], self.count)
        order = np.argsort(part, kind="stable")
        pos, part = pos[order], part[order]
        cuts = np.flatnonzero(np.diff(part)) + 1
        batch_id = f"{self.node}-{self._run}-{next(self._ids)}"
        acks = []
        for group in np.split(np.arange(len(pos)), cuts) if len(pos) else []:
            p, at = int(part[group[0]]), pos[group]
            data = wire.encode_readings(raw.sensor[at], raw.ts[at], raw.value[at], raw.quality[at])
            acks.append(self._js.publish(partitions.subject(p), data,
                                         headers={"Nats-Msg-Id": f"{batch_id}-{p}", wire.KIND: wire.READINGS}))
        try:
            await asyncio.gather(*acks)
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as e:
            # Some parts may be in the stream already: sending the request again stores each reading once.
            raise Unavailable(f"the telemetry stream did not take the readings ({e or type(e).__name__}); "
                              "nothing is acknowledged, send them again") from None
        accepted = len(raw) - len(reasons)
        metrics.PUBLISHED.inc(len(pos))
        metrics.READINGS.labels("accepted").inc(accepted)
        metrics.READINGS.labels("rejected").inc(len(reasons))
        metrics.PUBLISH.observe(time.perf_counter() - started)
        return IngestResult(accepted, [Rejection(i, raw.tags[i], reasons[i]) for i in sorted(reasons)])

    def device_status(self, code: str, online: bool, at_us: int) -> Future:
        return asyncio.run_coroutine_threadsafe(self._status(code, online, at_us), self._loop)

    async def _status(self, code: str, online: bool, at_us: int) -> None:
        dev = self.index.devices.get(code)
        if dev is None:
            log.warning("status for unknown device %r ignored", code)
            return
        p = int(partitions.of_orgs(dev.org_id, self.count))
        await self._js.publish(partitions.subject(p), wire.encode_status(code, online, at_us),
                               headers={wire.KIND: wire.STATUS})
