"""A worker node: holds partition leases, consumes its partitions' batches from JetStream in order,
runs them through the pipeline (store, evaluate, alarms) and acknowledges each message only after
that, so a crash leaves it in the stream for the next owner.

On every change of its partitions the worker stops their consumers, rebuilds its pipeline state
from the database (where the previous owner checkpointed it), and opens a fresh consumer for each
new partition. The stream is a work queue, so a fresh consumer starts at the oldest message not yet
acknowledged: exactly where the previous owner stopped. Batches it had stored but not acknowledged
come again and are dropped as already stored (the store keeps one row per (sensor, ts)), and their
alarm changes were either committed with its checkpoint (and are not re-emitted) or refused by the
fence (and are emitted now, once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

import nats.errors
import nats.js.errors
import numpy as np
import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from hazwatch import metrics
from hazwatch.alarms.manager import AlarmCommandError
from hazwatch.auth.audit import CommandAudit
from hazwatch.domain.batch import ReadingBatch
from hazwatch.domain.events import READINGS_STORED, ReadingsStored
from hazwatch.normalize import RawBatch
from hazwatch.pipeline import Fenced, Pipeline
from hazwatch.scale import stream, wire
from hazwatch.scale.api import READINGS_LATEST, command_subject
from hazwatch.scale.leases import PartitionLeases
from hazwatch.scale.partitions import subject

log = logging.getLogger(__name__)
FETCH = 256  # messages per fetch: each holds one request's readings for this partition


class WorkerNode:
    def __init__(self, pipeline: Pipeline, leases: PartitionLeases, nats_url: str, replicas: int,
                 ack_wait_s: float) -> None:
        self.pipeline, self.leases, self.nats_url = pipeline, leases, nats_url
        self.replicas, self.ack_wait_s = replicas, ack_wait_s
        self.ready = threading.Event()  # leases taken at least once and state rebuilt
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._consumers: dict[int, asyncio.Task] = {}
        self._stopping = asyncio.Event()  # bound to the loop at first use (on the loop's thread)
        self.failure: BaseException | None = None

    # -- lifecycle (called from the server's thread) ------------------------------------------------
    def start(self) -> None:
        self.pipeline.bus.subscribe(READINGS_STORED, self._latest)
        self.pipeline.start()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),),
                                        name="hazwatch-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=30)
        self._thread = None
        self.pipeline.stop()

    @property
    def owned(self) -> list[int]:
        return sorted(self.leases.tokens)

    # -- the worker's event loop -------------------------------------------------------------------
    async def _main(self) -> None:
        try:
            nc = self._nc = await stream.connect(self.nats_url, f"hazwatch-worker-{self.leases.node}")
            self._js = nc.jetstream()
            await stream.ensure(self._js, self.replicas)
            await self.leases.open(self._js)
            period = self.leases.ttl_s / 3
            while not self._stopping.is_set():
                await self._round()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), period)
            await self._close(set(self._consumers))
            await self.leases.release_all()
            await nc.close()  # drain() would wait out the pull subscriptions
        except Exception as e:  # noqa: BLE001 - reported by readiness
            self.failure = e
            log.exception("worker stopped")

    async def _round(self) -> None:
        try:
            change = await self.leases.round()
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as e:
            log.warning("lease round failed (%s); partitions kept until their leases lapse", e)
            return
        for p, task in list(self._consumers.items()):  # a consumer that stopped starts again below
            if task.done() and p in self.leases.tokens:
                del self._consumers[p]
        mine = set(self.leases.tokens)
        gone, new = set(self._consumers) - mine, mine - set(self._consumers)
        # State is rebuilt from the database whenever the leases held differ from those the pipeline's
        # state was built for (partitions and tokens): compared, not taken from the round's report,
        # so that a round that failed half-way (a partition taken, then a timeout) still leads to a
        # rebuild before the partition's consumer starts; a consumer on a stale scope would refuse
        # its readings, and a stale token would have every batch fenced.
        built = self.leases.scoped
        if self.leases.tokens != built or change or gone or not self.ready.is_set():
            await self._close(gone | change.lost | (set(built) - mine))
            await asyncio.wrap_future(self.pipeline.call(self.pipeline.rescope))
            log.info("partitions now %s (acquired %s, lost %s)", self.owned, sorted(change.acquired),
                     sorted(change.lost | gone))
            self.ready.set()
        for p in sorted(new):
            self._consumers[p] = asyncio.create_task(self._consume(p), name=f"partition-{p}")
        metrics.PARTITIONS.set(len(self.leases.tokens))
        await self._lag()

    async def _close(self, parts: set[int]) -> None:
        tasks = [self._consumers.pop(p) for p in parts if p in self._consumers]
        for p in parts:
            with contextlib.suppress(KeyError):
                metrics.LAG.remove(str(p))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _lag(self) -> None:
        for p in list(self._consumers):
            try:
                info = await self._js.consumer_info(stream.STREAM, f"hz-tel-{p}")
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
                continue
            metrics.LAG.labels(str(p)).set(info.num_pending + info.num_ack_pending)

    async def _consume(self, p: int) -> None:
        try:
            await self._consume_partition(p)
        except asyncio.CancelledError:
            raise
        except Exception:  # the next lease round starts it again
            log.exception("partition %d: consumer stopped", p)

    async def _consume_partition(self, p: int) -> None:
        name = f"hz-tel-{p}"
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self._js.delete_consumer(stream.STREAM, name)  # the last owner's deliveries with it
        await self._js.add_consumer(stream.STREAM, ConsumerConfig(
            durable_name=name, filter_subject=subject(p), ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL, ack_wait=self.ack_wait_s, max_ack_pending=4 * FETCH))
        sub = await self._js.pull_subscribe_bind(name, stream=stream.STREAM)
        commands = await self._nc.subscribe(command_subject(p), cb=self._command)
        try:
            await self._fetch(p, sub)
        finally:
            with contextlib.suppress(Exception):
                await commands.unsubscribe()

    async def _command(self, msg) -> None:
        """An operator's alarm command from an API node, run as on a single server (the writer
        thread, one transaction with its audit entry); the answer is the alarm after it."""
        try:
            d = orjson.loads(msg.data)
            fut = self.pipeline.alarm_command(int(d["alarm_id"]), str(d["action"]), str(d["actor"]), d.get("comment"),
                                              d.get("minutes"), float(d["max_minutes"]), CommandAudit.of(d["audit"]))
            reply = {"alarm": await asyncio.wrap_future(fut)}
        except AlarmCommandError as e:
            reply = {"error": {"status": e.status, "message": e.message}}
        except Fenced:
            return  # not ours any more: the API node times out and tells its caller to try again
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            reply = {"error": {"status": 422, "message": f"bad alarm command: {e}"}}
        await msg.respond(orjson.dumps(reply))

    def _latest(self, _subject: str, event) -> None:
        """Pass the newest reading per sensor of each stored batch on to the API nodes."""
        b = event.batch
        rows = b.newest_per_sensor()
        self.pipeline.bus.publish(READINGS_LATEST, ReadingsStored(ReadingBatch(
            b.sensor[rows], b.ts[rows], b.value[rows], b.quality[rows])))

    async def _fetch(self, p: int, sub) -> None:
        while True:
            try:
                msgs = await sub.fetch(FETCH, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            try:
                await self._process(msgs)
            except Fenced:
                log.warning("partition %d fenced: another worker owns it now", p)
                return
            except Exception:
                # Not acknowledged: the consumer is made again at the next lease round and starts at
                # the oldest unacknowledged batch, so the partition's order holds.
                log.exception("partition %d: batch failed; it will come again", p)
                return
            for m in msgs:
                await m.ack()

    async def _process(self, msgs) -> None:
        """Runs of reading messages go to the pipeline as one batch; device statuses in between keep
        their place in the order."""
        run: list[dict] = []
        for m in msgs:
            if (m.headers or {}).get(wire.KIND, wire.READINGS) == wire.STATUS:
                await self._readings(run)
                run = []
                device, online, at = wire.decode_status(m.data)
                await asyncio.wrap_future(self.pipeline.device_status(device, online, at))
            else:
                run.append(wire.decode_readings(m.data))
        await self._readings(run)

    async def _readings(self, run: list[dict]) -> None:
        if not run:
            return
        cols = {k: np.concatenate([r[k] for r in run]) for k in run[0]}
        n = len(cols["sensor"])
        raw = RawBatch([""] * n, cols["sensor"], cols["ts"], cols["value"], cols["quality"])
        started = time.perf_counter()
        result = await asyncio.wrap_future(self.pipeline.ingest(raw))
        dropped = n - result.accepted
        if dropped:  # already stored (a replay) or refused again (out of range: a sensor fault)
            log.debug("%d of %d readings not stored again", dropped, n)
        metrics.WORKER_SECONDS.observe(time.perf_counter() - started)
