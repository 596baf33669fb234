"""Validation as array masks: every rule is one vectorized test over the whole batch, and a
reason string is built only for the readings that fail."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.batch import NO_TS, SENSOR_DTYPE, TS_DTYPE, US, RawBatch, ReadingBatch
from hazwatch.domain.clock import iso

if TYPE_CHECKING:  # a store gives its history; the normalizer does not depend on the store package
    from hazwatch.store.base import TelemetryStore

Probe = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (sensor ids, ts) -> one answer per reading

EARLIEST_US = 946_684_800 * US  # 2000-01-01: anything older is a broken clock, not data


class History(NamedTuple):
    """All the normalizer asks of the readings already stored, and nothing more: a store gives its
    own (`History.of`); an ingest node of the scale-out mode, which keeps no readings, gives
    `NO_HISTORY` and leaves duplicates of stored readings to the worker that stores them."""

    newest: tuple[np.ndarray, np.ndarray]  # (sensor ids, each one's newest stored ts) at start
    seen: Probe  # which (sensor, ts) are stored
    next_after: Probe  # each sensor's first stored ts after ts (int64 max where none)

    @classmethod
    def of(cls, store: TelemetryStore) -> History:
        return cls(store.last_ts(), store.existing, store.first_after)


NO_HISTORY = History((np.zeros(0, SENSOR_DTYPE), np.zeros(0, TS_DTYPE)),
                     lambda sensor, ts: np.zeros(len(sensor), bool),
                     lambda sensor, ts: np.full(len(sensor), np.iinfo(np.int64).max, np.int64))


class Normalizer:
    """Holds the newest stored ts of every sensor, so duplicates are found without a store
    query except for readings that arrive out of order; and, per sensor, a gap known to hold no
    stored reading (gap_lo, gap_hi), so a gateway's backlog filling the time it was away is asked
    of the store once, not batch after batch. The writer is the only one that stores: what it
    stores into a gap moves the gap's floor up, and the gap stays exact."""

    def __init__(self, history: History, future_tolerance_s: float) -> None:
        self.history = history
        self.future_us = int(future_tolerance_s * US)
        self.last_ts = np.full(0, NO_TS, TS_DTYPE)
        self.gap_lo = np.full(0, NO_TS, TS_DTYPE)  # exclusive bounds; lo >= hi: no gap known
        self.gap_hi = np.full(0, NO_TS, TS_DTYPE)
        self.out_of_range: tuple[np.ndarray, np.ndarray] = (np.zeros(0, SENSOR_DTYPE), np.zeros(0, TS_DTYPE))
        sensors, ts = history.newest
        self._grow(int(sensors.max()) + 1 if len(sensors) else 0)
        self.last_ts[sensors] = ts

    def _grow(self, size: int) -> None:
        if size > len(self.last_ts):
            n = len(self.last_ts)
            for name in ("last_ts", "gap_lo", "gap_hi"):
                grown = np.full(size, NO_TS, TS_DTYPE)
                grown[:n] = getattr(self, name)
                setattr(self, name, grown)

    def validate(self, raw: RawBatch, index: SensorIndex, now_us: int) -> tuple[ReadingBatch, dict[int, str]]:
        """Return the accepted readings sorted by (sensor, ts) and a reason per refused position."""
        self._grow(index.size)
        n = len(raw)
        reasons: dict[int, str] = {}
        sensor = raw.sensor.astype(SENSOR_DTYPE, copy=False)
        known = (sensor >= 0) & (sensor < index.size)
        known[known] = index.exists[sensor[known]]
        sid = np.where(known, sensor, 0)
        finite = np.isfinite(raw.value)
        lo, hi = index.range_low[sid], index.range_high[sid]
        in_range = (raw.value >= lo) & (raw.value <= hi)
        not_future = raw.ts <= now_us + self.future_us
        not_ancient = raw.ts >= EARLIEST_US

        def refuse(mask: np.ndarray, reason) -> None:
            for i in np.flatnonzero(mask).tolist():
                if i not in reasons:
                    reasons[i] = reason(i)

        out = known & finite & ~in_range
        # the instrument sends values it cannot measure: a sensor fault, raised by the quality monitor
        self.out_of_range = (sensor[out], raw.ts[out])
        ok = known & finite & in_range & not_future & not_ancient
        if raw.denied is not None:
            ok &= ~raw.denied
        if not ok.all():
            refuse(~known, lambda i: "unknown sensor")
            if raw.denied is not None:
                refuse(raw.denied, lambda i: f"sensor {raw.tags[i]!r} is on device {index.info[sid[i]]['device']!r}; "
                                             "a device writes only its own device's sensors")
            refuse(~finite, lambda i: "value is not a finite number")
            refuse(~in_range, lambda i: f"value {raw.value[i]:g} outside the instrument range "
                                        f"{lo[i]:g}..{hi[i]:g}")
            refuse(~not_future, lambda i: f"timestamp {iso(int(raw.ts[i]), 'auto')} is more than "
                                          f"{self.future_us / US:g} s in the future")
            refuse(~not_ancient, lambda i: f"timestamp {iso(int(raw.ts[i]), 'auto')} is before 2000-01-01")

        pos = np.flatnonzero(ok)
        order = pos[np.lexsort((raw.ts[pos], sensor[pos]))]
        s, t = sensor[order], raw.ts[order]
        dup = np.zeros(len(order), bool)
        if len(order) > 1:
            dup[1:] = (s[1:] == s[:-1]) & (t[1:] == t[:-1])
        refuse_pos = order[dup]
        for i in refuse_pos.tolist():
            reasons[i] = "duplicate (sensor, ts) in this batch"
        keep = ~dup
        # older than the sensor's newest: stored already, unless it lies in the sensor's known gap
        maybe_stored = keep & (t <= self.last_ts[s]) & ~((t > self.gap_lo[s]) & (t < self.gap_hi[s]))
        if maybe_stored.any():
            idx = np.flatnonzero(maybe_stored)
            stored = self.history.seen(s[idx], t[idx])
            for i in order[idx[stored]].tolist():
                reasons[i] = "duplicate (sensor, ts): already stored"
            keep[idx[stored]] = False
            if not stored.all():
                self._learn_gaps(s[idx[~stored]], t[idx[~stored]])
        accepted = order[keep]
        batch = ReadingBatch(sensor[accepted], raw.ts[accepted], raw.value[accepted], raw.quality[accepted])
        assert len(accepted) + len(reasons) == n
        return batch, reasons

    def _learn_gaps(self, sensor: np.ndarray, ts: np.ndarray) -> None:
        """New readings older than their sensor's newest (sorted by sensor, ts): above the newest of
        them, up to the next stored reading, nothing is stored. One store query per backlog start."""
        last = np.flatnonzero(np.r_[sensor[1:] != sensor[:-1], True])
        s, t = sensor[last], ts[last]
        self.gap_lo[s] = t
        self.gap_hi[s] = self.history.next_after(s, t)

    def stored(self, batch: ReadingBatch) -> None:
        """Advance the watermarks once a batch is durable (batch sorted by sensor, ts)."""
        if not len(batch):
            return
        inside = (batch.ts > self.gap_lo[batch.sensor]) & (batch.ts < self.gap_hi[batch.sensor])
        if inside.any():  # the backlog filled its gap up to here: the gap's floor rises
            np.maximum.at(self.gap_lo, batch.sensor[inside], batch.ts[inside])
        last = batch.newest_per_sensor()
        s, t = batch.sensor[last], batch.ts[last]
        self.last_ts[s] = np.maximum(self.last_ts[s], t)
