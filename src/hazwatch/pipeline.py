"""The hot path, owned by one writer thread:

    raw batch ─► normalize ─► store (durable) ─► limits ─► alarms (+ state checkpoint) ─► bus ─► ack

Requests that arrive while the writer is busy are merged into one batch (group commit): one
validation pass, one store transaction and one evaluation for all of them, then each caller gets
its own answer. Operator commands and timers go through the same queue, so alarm state has a
single writer and needs no locks.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Connection, Engine

from hazwatch import metrics
from hazwatch.alarms import AlarmManager, Change, public
from hazwatch.alarms.hygiene import HygienePolicy
from hazwatch.catalog import CatalogRepository, SensorIndex
from hazwatch.detect import checkpoint
from hazwatch.detect.multivariate.live import UnitMonitor
from hazwatch.detect.rules import LimitEvaluator, Transitions
from hazwatch.detect.stages import STAGES, Stage, StageFactory, UnitStage
from hazwatch.domain import Clock, Rejection
from hazwatch.domain.batch import IngestResult
from hazwatch.domain.clock import ReadingClock
from hazwatch.domain.errors import Unavailable
from hazwatch.domain.events import ALARM_CHANGED, READINGS_STORED, AlarmChanged, ReadingsStored
from hazwatch.domain.limits import COMM
from hazwatch.normalize import History, Normalizer, RawBatch
from hazwatch.normalize.validate import EARLIEST_US
from hazwatch.store import TelemetryStore

log = logging.getLogger(__name__)
MAX_GROUP_READINGS = 200_000


class Fenced(RuntimeError):
    """This node no longer owns a partition it was evaluating: another worker took it over."""


class Ownership(Protocol):
    """What a scale-out worker owns. The pipeline sees only its partitions' sensors, and checks in
    every alarm transaction that it still owns them (a fencing token in the database)."""

    def scope(self, index: SensorIndex, again: bool = False) -> SensorIndex:
        """The index as far as the node owns it: for the partitions held now, or (`again`, a
        catalog reload) for those the state was last built for."""

    def check(self, conn: Connection) -> None:
        """Raise Fenced when another node holds one of these partitions now."""


class Laps:
    """Writer time per step of a group commit, into /metrics (`hazwatch_stage_seconds`): where a
    batch's time goes, measured where it is spent (`bench/ingest_demo.py --profile` reads it)."""

    __slots__ = ("t",)

    def __init__(self) -> None:
        self.t = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        metrics.STAGE.labels(step).observe(now - self.t)
        self.t = now


@dataclass
class _Job:
    kind: str  # "ingest" | "call" | "stop"
    future: Future
    raw: RawBatch | None = None
    fn: Callable[[], Any] | None = None


class Pipeline:
    def __init__(self, engine: Engine, store: TelemetryStore, catalog: CatalogRepository, bus, clock: Clock,
                 future_tolerance_s: float = 300.0, tick_interval_s: float = 1.0,
                 checkpoint_interval_s: float = 2.0, hygiene: HygienePolicy | None = None,
                 ownership: Ownership | None = None, stages: list[StageFactory] | None = None) -> None:
        self.hygiene = hygiene
        self.ownership = ownership
        self._stale = False  # alarm state must be rebuilt before the next batch (a recovery failed, a batch fenced)
        self.engine, self.store, self.catalog, self.bus, self.clock = engine, store, catalog, bus, clock
        self.tick_interval_s = tick_interval_s
        self.checkpoint_interval_s = checkpoint_interval_s
        self.index = self._load_index()
        self.normalizer = Normalizer(History.of(store), future_tolerance_s)
        self.evaluator = LimitEvaluator(self.index.size)
        # reading time for the timers that wait on data (STALE, rule holds): one clock, fed once per batch
        self.reading_clock = ReadingClock()
        self.stage_factories = list(STAGES if stages is None else stages)  # after the limits, in order
        self.stages: list[Stage] = []
        self.alarms: AlarmManager
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._loading = threading.Event()  # a catalog load runs aside (`_reload_aside`)
        self._recover()

    # -- recovery ----------------------------------------------------------------------------------
    def _recover(self) -> None:
        """Load the last checkpoint, then re-evaluate whatever was stored after it: readings are
        durable before alarm state is, so the store is the log that alarm state is rebuilt from."""
        self.evaluator = LimitEvaluator(self.index.size)
        checkpoint.load(self.engine, self.evaluator.state)
        self.evaluator.state.grow(self.index.size)
        self.alarms = AlarmManager(self.engine, self.hygiene, locate=self._locate,
                                   owned=None if self.ownership is None else self._owned)
        self.stages = [make(self) for make in self.stage_factories]
        sensors = np.flatnonzero(self.index.exists).astype(np.int32)
        after = np.maximum(self.evaluator.state.last_ts[sensors], EARLIEST_US - 1)
        replay = self.store.readings_after(sensors, after)
        if len(replay):
            log.info("re-evaluating %d readings stored after the last checkpoint", len(replay))
            self._evaluate(replay, self.clock.now_us(), live=False)
        self._checkpoint(force=True)
        self._stale = False

    def _load_index(self, again: bool = False) -> SensorIndex:
        index = SensorIndex.load(self.engine)
        return index if self.ownership is None else self.ownership.scope(index, again)

    def _owned(self, p) -> bool:
        """An alarm point of this worker's partitions (its area is a scoped-in enterprise)."""
        return self._locate(p)[0] is not None

    def register(self, make: StageFactory) -> None:
        """One more detection stage after those of STAGES: built now (on the writer thread when it
        runs) and again whenever alarm state is rebuilt."""
        def add() -> None:
            self.stage_factories.append(make)
            self.stages.append(make(self))

        if self._thread is None:
            add()
        else:
            self.call(add).result()

    @property
    def units(self) -> UnitMonitor:
        """The process-unit models watched now (their stage's monitor)."""
        return next(s.monitor for s in self.stages if isinstance(s, UnitStage))

    def rescope(self) -> None:
        """The owned partitions changed (writer thread only): state is rebuilt from the database,
        where the previous owner left it, exactly as after a restart."""
        self.index = self._load_index()
        self.normalizer = Normalizer(History.of(self.store), self.normalizer.future_us / 1e6)
        self._recover()

    def reload_catalog(self) -> None:
        """Load a fresh SensorIndex on the calling thread (a third of a second of database reads at
        5,000 sensors: never on the writer's time) and swap it in on the writer, which alone owns
        what the index sizes (limit state, stages); returns once readers see it. A worker keeps the
        partitions its state was built for: taking new ones is a rebuild (`rescope`)."""
        index = self._load_index(again=True)
        if self.running and threading.current_thread() is not self._thread:
            self.call(lambda: self._swap_index(index)).result(timeout=60)
        else:
            self._swap_index(index)

    def _swap_index(self, index: SensorIndex) -> None:
        if index.revision < self.index.revision:  # a newer one got in first
            return
        self.index = index  # a single reference assignment: safe for readers on other threads
        self.evaluator.state.grow(index.size)
        for stage in self.stages:
            stage.reload(index)
        log.info("catalog revision %d loaded (%d sensors)", index.revision, len(index.tag_to_id))

    def _reload_aside(self) -> None:
        """A catalog changed by another process, seen by the writer's timer: loaded on a thread of
        its own and swapped in on the writer when ready (one load at a time)."""
        if self._loading.is_set():
            return
        self._loading.set()

        def load() -> None:
            try:
                self.reload_catalog()
            except Exception:
                log.exception("catalog reload failed; trying again at the next tick")
            finally:
                self._loading.clear()

        threading.Thread(target=load, name="hazwatch-catalog-load", daemon=True).start()

    def active_units(self) -> set[int]:
        return {uid for (uid, _), p in self.alarms.unit_points.items() if p.active}

    def active_rules(self) -> set[int]:
        return {rid for (rid, _), p in self.alarms.rule_points.items() if p.active}

    def suppressing(self) -> set[int]:
        """Sensors under state-based suppression (from the alarm rows, which survive a restart)."""
        held = {p.sensor_id for p in self.alarms.points.values() if p.suppressed and p.suppression == "state"}
        for sid in held:
            self.alarms.hygiene.state_suppressed.setdefault(sid, (self.index.suppress_when or {}).get(sid, "state"))
        return held

    def _locate(self, p) -> tuple[int | None, object | None]:
        """An alarm's area (the enterprise whose console shows it) and first-out group (its hazard
        source, else its device; a unit's or rule's alarm has none)."""
        owner = self.index.owner_of(p)
        if owner is None:
            return None, None
        if owner.kind in ("unit", "rule"):
            return owner.org_id, None
        if owner.hazard_source_id is not None:
            return owner.org_id, ("hazard_source", owner.hazard_source_id)
        return owner.org_id, ("device", self.index.devices[next(iter(owner.devices))].id)

    # -- public, thread-safe -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hazwatch-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        fut: Future = Future()
        self._queue.put(_Job("stop", fut))
        self._thread.join()
        self._thread = None
        while True:  # what came after the stop is refused, not left waiting for ever
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(Unavailable("the writer has stopped"))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def readiness(self) -> tuple[bool, str]:
        return (True, "evaluating") if self.running else (False, "writer not running")

    def latest(self, sensor: int) -> tuple[int, float] | None:
        """The newest evaluated reading of a sensor (ts µs, value), None before its first."""
        st = self.evaluator.state
        if sensor < len(st.last_ts) and st.last_ts[sensor] > 0:
            return int(st.last_ts[sensor]), float(st.last_value[sensor])
        return None

    def queued(self) -> int:
        """Jobs waiting for the writer thread."""
        return self._queue.qsize()

    def ingest(self, raw: RawBatch) -> Future:
        fut: Future = Future()
        self._queue.put(_Job("ingest", fut, raw=raw))
        return fut

    def call(self, fn: Callable[[], Any]) -> Future:
        """Run fn on the writer thread (alarm commands), after everything queued before it."""
        fut: Future = Future()
        self._queue.put(_Job("call", fut, fn=fn))
        return fut

    # -- the writer thread -------------------------------------------------------------------------
    def _run(self) -> None:
        next_tick = time.monotonic() + self.tick_interval_s
        next_ckpt = time.monotonic() + self.checkpoint_interval_s
        while True:
            timeout = max(0.0, next_tick - time.monotonic())
            try:
                job = self._queue.get(timeout=timeout)
            except queue.Empty:
                job = None
            if job is not None:
                group = [job]
                size = len(job.raw) if job.raw is not None else 0
                while job.kind == "ingest" and size < MAX_GROUP_READINGS:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    group.append(nxt)
                    if nxt.kind != "ingest":
                        break
                    size += len(nxt.raw)
                # A caller that gave up (its future cancelled: a client gone, a consumer stopped) is
                # not served; every other future is marked running, so it can no longer be cancelled
                # under the writer's hands.
                group = [j for j in group if j.kind == "stop" or j.future.set_running_or_notify_cancel()]
                ingests = [j for j in group if j.kind == "ingest"]
                if ingests:
                    self._ingest(ingests)
                for j in group:
                    if j.kind == "call":
                        self._call(j)
                    elif j.kind == "stop":
                        self._checkpoint(force=True)
                        j.future.set_result(None)
                        return
            mono = time.monotonic()
            if mono >= next_tick:
                next_tick = mono + self.tick_interval_s
                self._guard(self._tick)
            if mono >= next_ckpt:
                next_ckpt = mono + self.checkpoint_interval_s
                self._guard(self._checkpoint)

    @staticmethod
    def _guard(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("writer task %s failed", getattr(fn, "__name__", fn))

    def _call(self, job: _Job) -> None:
        try:
            job.future.set_result(job.fn())
        except Exception as e:
            job.future.set_exception(e)

    def _ingest(self, jobs: list[_Job]) -> None:
        raws = [j.raw for j in jobs]
        started = time.perf_counter()
        lap = Laps()
        try:
            merged = RawBatch.concat(raws)
            if self._stale:  # a recovery that failed (the database was away) is done before anything new
                self._recover()
            now = self.clock.now_us()
            if self.ownership is not None and self.catalog.revision() != self.index.revision:
                self.reload_catalog()  # an ingest node may know a sensor added a moment ago
            batch, reasons = self.normalizer.validate(merged, self.index, now)
            lap("validate")
            self.store.append(batch)
            self.normalizer.stored(batch)
            lap("store")
        except Exception as e:
            log.exception("ingest failed; %d requests refused", len(jobs))
            for j in jobs:
                j.future.set_exception(e)
            return
        try:
            self._evaluate(batch, now, lap=lap)
            if len(batch) and self.bus.has_subscribers(READINGS_STORED):
                self.bus.publish(READINGS_STORED, ReadingsStored(batch))
            lap("publish")
        except Fenced as e:
            # Stored but not evaluated here. The batch may hold readings of partitions still ours
            # beside the lost one's, and the evaluator's state has moved past all of them: it is
            # rebuilt from the last checkpoint and the store before the next batch, so those
            # readings are evaluated then (their messages come again only to be dropped as stored).
            log.warning("partition lost while evaluating: %s", e)
            self._stale = True
            for j in jobs:
                j.future.set_exception(e)
            return
        except Exception:
            # The readings are durable; alarm state is rebuilt from them (now, or before the next
            # batch if the database is not back yet).
            log.exception("alarm evaluation failed; recovering from the last checkpoint")
            try:
                self._recover()
            except Exception:
                log.exception("recovery failed; trying again before the next batch")
                self._stale = True
        metrics.BATCHES.inc()
        metrics.READINGS.labels("accepted").inc(len(batch))
        metrics.READINGS.labels("rejected").inc(len(reasons))
        metrics.EVALUATION.observe(time.perf_counter() - started)
        offset = 0
        for j in jobs:
            n = len(j.raw)
            rejected = [Rejection(i - offset, merged.tags[i], reasons[i])
                        for i in sorted(k for k in reasons if offset <= k < offset + n)]
            j.future.set_result(IngestResult(n - len(rejected), rejected))
            offset += n

    def _evaluate(self, batch, now: int, live: bool = True, lap: Laps | None = None) -> None:
        """Every detection stage over a stored batch, and one transaction for all their alarm changes.
        A replay after a restart (`live` False) skips the stages that judge only live batches."""
        lap = lap or Laps()
        if len(batch):  # live or replayed after a crash alike
            self.reading_clock.saw(int(batch.ts.max()), now)
        found = []
        for stage in self.stages:
            if live or stage.replays:
                found += stage.observe(batch, self.index)
                lap(type(stage).__name__)
        tr = self.evaluator.evaluate(batch, self.index)
        lap("limits")
        self._commit_alarms(tr, now, extra=(lambda conn: self.alarms.apply_findings(conn, found, now)) if found
                            else None)
        lap("alarms")

    def _commit_alarms(self, tr: Transitions, now: int, extra: Callable | None = None) -> None:
        if not len(tr) and extra is None:
            return
        with self.engine.begin() as conn:
            self._fence(conn)
            changes: list[Change] = self.alarms.apply(conn, tr, self.index, now) if len(tr) else []
            if extra is not None:
                changes += extra(conn)
            checkpoint.save(conn, self.evaluator.state, tr.sensor)
        self._publish(changes)

    def _publish(self, changes: list[Change]) -> None:
        for c in changes:
            metrics.ALARMS.labels(c.event).inc()
            owner = self.index.owner_of(c.point)
            self.bus.publish(ALARM_CHANGED, AlarmChanged(public(c.point, self.index, owner), c.event,
                                                         owner.org_id if owner is not None else None))

    def _tick(self) -> None:
        if self._stale:  # timers must not fire from a state about to be rebuilt: rebuild it first
            self._recover()
            return
        now = self.clock.now_us()
        if self.catalog.revision() != self.index.revision:
            self._reload_aside()
        tr = self.evaluator.tick(now, self.index)
        found = [f for stage in self.stages for f in stage.tick(now, self.index)]
        due = any(p.shelved_until is not None and p.shelved_until <= now for p in self.alarms.by_id.values())
        due = due or self.alarms.hygiene_due(now)
        if len(tr) or due or found:
            self._commit_alarms(tr, now, extra=lambda conn: self.alarms.expire_shelving(conn, now)
                                + self.alarms.hygiene_tick(conn, now) + self.alarms.apply_findings(conn, found, now))

    def _checkpoint(self, force: bool = False) -> None:
        if self._stale and not force:  # the state is to be rebuilt: it must not be saved as it is
            return
        dirty = np.flatnonzero(self.evaluator.state.dirty)
        if len(dirty) or force:
            with self.engine.begin() as conn:
                self._fence(conn)
                checkpoint.save(conn, self.evaluator.state, dirty)

    def _fence(self, conn: Connection) -> None:
        if self.ownership is not None:
            self.ownership.check(conn)

    # -- commands run on the writer thread ---------------------------------------------------------
    def device_status(self, code: str, online: bool, at_us: int) -> Future:
        """A device reported itself online or offline (MQTT status, usually its last will): offline
        raises its communication-loss alarm, online clears it."""

        def run() -> None:
            dev = self.index.devices.get(code)
            if dev is None:
                log.warning("status for unknown device %r ignored", code)
                return
            with self.engine.begin() as conn:
                self._fence(conn)
                changes = self.alarms.set_device_condition(
                    conn, dev.id, COMM, not online, at_us, self.clock.now_us(),
                    comment=None if online else "device reported offline (last will or status message)")
            self._publish(changes)

        return self.call(run)

    def alarm_command(self, alarm_id: int, action: str, actor: str, comment: str | None = None,
                      minutes: float | None = None, max_minutes: float = 1440,
                      audit: Callable[[Connection, dict, dict], None] | None = None) -> Future:
        """Run an operator's command; `audit(conn, before, after)` records it in the same transaction."""

        def run() -> dict:
            now = self.clock.now_us()
            point = self.alarms.get(alarm_id)
            saved = dataclasses.replace(point)
            before = public(point, self.index)
            try:
                with self.engine.begin() as conn:
                    self._fence(conn)
                    change = self.alarms.command(conn, alarm_id, action, actor, now, comment, minutes, max_minutes)
                    after = public(change.point, self.index)
                    if audit is not None:
                        audit(conn, before, after)
            except Exception:
                # The transaction rolled back; so does the in-memory point.
                point.__dict__.update(saved.__dict__)
                raise
            if change.event != "commented":
                self._publish([change])
            return after

        return self.call(run)
