"""Sensor faults, kept apart from process alarms so a dead detector is never silent:

- STALE: no reading for the sensor's interval × stale_intervals (a timer, checked by `tick`);
- FLAT: the value has not changed for flatline_s (a stuck transmitter reports a perfect line);
- RANGE: the instrument sends values outside its range (they are refused at validation; the
  fault clears with the next reading inside the range).

State is per sensor, in arrays. FLAT is judged on each batch's newest reading of a sensor, which is
enough at the rates plants report (a batch covers seconds, flatline windows minutes). On restart
STALE is rebuilt from the store's newest timestamps and the fault states from the alarm points, so
an active fault is neither lost nor raised twice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.batch import ReadingBatch
from hazwatch.domain.clock import ReadingClock

STALE, FLAT, RANGE = "STALE", "FLAT", "RANGE"
FAULTS = (STALE, FLAT, RANGE)
NEVER = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Fault:
    sensor: int
    condition: str
    active: bool
    ts: int
    value: float | None = None


class QualityMonitor:
    def __init__(self, size: int, started_us: int, clock: ReadingClock | None = None) -> None:
        self.started_us = started_us
        self.last_ts = np.full(0, NEVER, np.int64)
        self.last_value = np.zeros(0)
        self.changed_at = np.full(0, NEVER, np.int64)
        self.state = {f: np.zeros(0, bool) for f in FAULTS}
        # STALE is judged in reading time, so a replayed backlog is not stale; the owner feeds the clock
        self.clock = clock or ReadingClock()
        self.grow(size)

    def grow(self, size: int) -> None:
        n = len(self.last_ts)
        if size <= n:
            return
        self.last_ts = np.concatenate([self.last_ts, np.full(size - n, NEVER, np.int64)])
        self.last_value = np.concatenate([self.last_value, np.full(size - n, np.nan)])
        self.changed_at = np.concatenate([self.changed_at, np.full(size - n, NEVER, np.int64)])
        for f in FAULTS:
            self.state[f] = np.concatenate([self.state[f], np.zeros(size - n, bool)])

    def restore(self, last_ts_by_sensor: tuple[np.ndarray, np.ndarray], active: list[tuple[int, str]]) -> None:
        """Newest stored reading per sensor, and the fault alarms that are active."""
        sensors, ts = last_ts_by_sensor
        if len(sensors):
            self.grow(int(sensors.max()) + 1)
            self.last_ts[sensors] = ts
        for sensor, condition in active:
            if condition in self.state:
                self.grow(sensor + 1)
                self.state[condition][sensor] = True

    def _switch(self, condition: str, sensors: np.ndarray, on: np.ndarray, ts: np.ndarray,
                value: np.ndarray | None, out: list[Fault]) -> None:
        st = self.state[condition]
        change = st[sensors] != on
        for i in np.flatnonzero(change).tolist():
            s = int(sensors[i])
            st[s] = bool(on[i])
            v = None if value is None or not np.isfinite(value[i]) else float(value[i])
            out.append(Fault(s, condition, bool(on[i]), int(ts[i]), v))

    def observe(self, batch: ReadingBatch, index: SensorIndex,
                out_of_range: tuple[np.ndarray, np.ndarray]) -> list[Fault]:
        """Faults that change with a stored batch (sorted by sensor, ts) and the sensors whose
        readings were refused for lying outside the instrument range (sensor ids, ts)."""
        self.grow(index.size)
        out: list[Fault] = []
        bad_s, bad_ts = out_of_range
        if len(batch):
            s, t, v = batch.sensor, batch.ts, batch.value
            last = batch.newest_per_sensor()
            first = np.r_[0, last[:-1] + 1]
            ls = s[last]
            # FLAT: when did each sensor's value last change? Compare each reading with the one before
            # (the carried value for a batch's first reading of a sensor).
            prev = np.empty_like(v)
            prev[1:] = v[:-1]
            prev[first] = self.last_value[ls]
            changed = v != prev
            change_pos = np.where(changed, np.arange(len(v)), -1)
            newest_change = np.maximum.reduceat(change_pos, first) if len(first) else change_pos
            had_change = newest_change >= first
            self.changed_at[ls] = np.where(had_change, t[np.maximum(newest_change, 0)], self.changed_at[ls])
            self.last_value[ls] = v[last]
            self.last_ts[ls] = np.maximum(self.last_ts[ls], t[last])
            watched = index.flat_us[ls] > 0
            seen = self.changed_at[ls] != NEVER
            flat = watched & seen & (t[last] - self.changed_at[ls] >= index.flat_us[ls])
            self._switch(FLAT, ls, flat, t[last], v[last], out)
            # a reading ends STALE, and one inside the range ends RANGE
            self._switch(STALE, ls, np.zeros(len(ls), bool), t[last], v[last], out)
            in_range = np.ones(len(ls), bool)
            if len(bad_s):  # a sensor with a refused reading newer than its newest stored one stays out
                worst = np.full(index.size, NEVER, np.int64)
                np.maximum.at(worst, bad_s, bad_ts)
                in_range = worst[ls] < t[last]
            self._switch(RANGE, ls[in_range], np.zeros(int(in_range.sum()), bool), t[last][in_range],
                         v[last][in_range], out)
        if len(bad_s):
            uniq = np.unique(bad_s)
            newest = np.full(len(uniq), NEVER, np.int64)
            np.maximum.at(newest, np.searchsorted(uniq, bad_s), bad_ts)
            stored_after = self.last_ts[uniq] > newest
            keep = ~stored_after
            self._switch(RANGE, uniq[keep], np.ones(int(keep.sum()), bool), newest[keep], None, out)
        return out

    def tick(self, now_us: int, index: SensorIndex) -> list[Fault]:
        """STALE: sensors watched for staleness whose newest reading is older than allowed."""
        self.grow(index.size)
        watched = np.flatnonzero((index.stale_us > 0) & index.exists & index.in_use)
        if not len(watched):
            return []
        # sensors get the stale time after start-up before they count as silent, measured on the
        # reading clock (which starts where the first readings are, if they are older than the start)
        seen = self.clock.seen_ts
        start = self.started_us if seen is None else min(self.started_us, seen)
        since = np.maximum(self.last_ts[watched], start)
        reading_now = self.clock.now(now_us)
        stale = reading_now - since > index.stale_us[watched]
        out: list[Fault] = []
        on = stale & ~self.state[STALE][watched]
        self._switch(STALE, watched[on], np.ones(int(on.sum()), bool), np.full(int(on.sum()), reading_now), None,
                     out)
        return out
