"""The incident desk: alarms become incidents, plans become tasks, silence climbs the ladder.

One worker thread owns every incident write (like the pipeline owns alarm state), so commands and
timers never race. Every timer is a deadline column in the database (`escalate_at` of incidents
and tasks, `due_at` of reporting clocks) that the tick compares with the clock, so a restart loses
none of them: the first tick after it does whatever fell due while the server was down.

Triggers are checked on each tick against the active alarms in the database, so an alarm that
must stay active for a while (a detector alarm held for N minutes) needs no timer of its own. Any
alarm activation on a hazard source with an open incident joins that incident; a triggering alarm
with no hazard source (a compound rule's) joins its org's newest open incident; only a triggering
alarm with nothing to join opens a new one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain import Clock
from hazwatch.incidents.catalog import DisposalCatalog
from hazwatch.incidents.commands import NEXT, IncidentCommands
from hazwatch.incidents.escalation import IncidentEscalation
from hazwatch.incidents.interlock import InterlockWriter
from hazwatch.incidents.notify import Notifier, Recipients
from hazwatch.incidents.reading import IncidentReading
from hazwatch.incidents.triggers import IncidentTriggers
from hazwatch.incidents.writing import Audit, ClockPolicy

log = logging.getLogger(__name__)
__all__ = ["NEXT", "Audit", "ClockPolicy", "IncidentDesk"]


class IncidentDesk(IncidentTriggers, IncidentEscalation, IncidentCommands, IncidentReading):
    """The thread that runs the parts: one worker owns every incident write, and a timer ticks it."""

    def __init__(self, engine: Engine, clock: Clock, index: Callable[[], SensorIndex], notifier: Notifier,
                 recipients: Recipients, writer: InterlockWriter | None = None, reports_dir: Path | None = None,
                 series: Callable[[int, int, int], tuple[list[int], list[float]]] | None = None,
                 clocks: ClockPolicy | None = None, bus=None) -> None:
        self.engine, self.clock, self.index, self.notifier = engine, clock, index, notifier
        self.bus = bus  # incident changes are published here (the live stream, the demo's console)
        self.recipients, self.writer, self.reports_dir, self.series = recipients, writer, reports_dir, series
        self.clocks = clocks or ClockPolicy()
        self._catalog: DisposalCatalog | None = None
        self.also_tick: list[Callable[[], Any]] = []  # other deadline checks that ride on this tick
        self._exec = ThreadPoolExecutor(1, thread_name_prefix="hazwatch-incidents")
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    # -- the worker ---------------------------------------------------------------------------------------
    def call(self, fn: Callable[[], Any]) -> Future:
        """Run fn on the desk's worker, after everything queued before it."""
        return self._exec.submit(fn)

    def start(self, interval_s: float = 1.0) -> None:
        def run() -> None:
            while not self._stop.wait(interval_s):
                try:
                    done = self.call(self.tick)
                except RuntimeError:  # the interpreter is shutting down the worker: nothing more to do
                    return
                try:
                    done.result()
                except Exception:
                    log.exception("incident tick failed")

        self._stop.clear()
        self._timer = threading.Thread(target=run, name="hazwatch-incident-timer", daemon=True)
        self._timer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=30)
            self._timer = None

    @property
    def catalog(self) -> DisposalCatalog:
        rev = self.index().revision
        if self._catalog is None or self._catalog.revision != rev:
            self._catalog = DisposalCatalog.load(self.engine)
        return self._catalog

    # -- timers ---------------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Open or join incidents for matching alarms; escalate what nobody acknowledged; run the
        reporting clocks. Safe to call at any time, any number of times."""
        now = self.clock.now_us()
        with self.notifier.together():  # what one tick says to a person goes out as one message
            self._scan(now)
            self._escalate(now)
            self._run_clocks(now)
        for fn in self.also_tick:
            fn()
