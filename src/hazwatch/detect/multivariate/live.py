"""Units in the live engine: rows are built from each stored batch and scored by the unit's model,
through `Model.score`, the same call `hazwatch model score` makes.

A row is the unit's sensors at one instant. Sensors of a unit seldom report at exactly the same
moment, so each distinct timestamp in a batch where any of them reported makes a row, holding the
other sensors at their last value (sample-and-hold, as a DCS historian does); rows wait until every
sensor has reported once. Readings older than the last row are left out: a model is a stream in time
order. Only good-quality readings are used.

The alarm rises on the first flagged row and clears after `clear_rows` unflagged rows in a row, and
names the sensors that contribute most to the score, so an operator knows where to look."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from hazwatch.catalog.index import SensorIndex
from hazwatch.detect.multivariate.base import FitError, Model
from hazwatch.domain.batch import Quality, ReadingBatch

log = logging.getLogger(__name__)
ANOM = "ANOM"


@dataclass(frozen=True)
class UnitEvent:
    unit_id: int
    active: bool
    ts: int
    score: float
    comment: str


class SampleHold:
    """A unit's rows from its sensors' readings, in time order, as described above. The live engine
    and a fit on stored history (`hazwatch pack fit`) build rows with this one class, so a model
    is fitted on rows made the way it will be scored."""

    def __init__(self, sensors: np.ndarray) -> None:
        self.sensors = sensors
        self.last = np.full(len(sensors), np.nan)
        self.last_ts = np.iinfo(np.int64).min
        self._pos = np.full(0, -1, np.int64)  # column of each sensor id, -1 for sensors not in the unit

    def rows(self, batch: ReadingBatch, size: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self._pos) != size:
            self._pos = np.full(size, -1, np.int64)
            self._pos[self.sensors] = np.arange(len(self.sensors))
        pos = self._pos
        ok = (batch.sensor >= 0) & (batch.sensor < size)
        col = np.where(ok, pos[np.where(ok, batch.sensor, 0)], -1)
        mask = (col >= 0) & (batch.ts > self.last_ts) & (batch.quality == Quality.GOOD)
        if not mask.any():
            return np.empty(0, np.int64), np.empty((0, len(self.sensors)))
        ts, col, value = batch.ts[mask], col[mask], batch.value[mask]
        order = np.argsort(ts, kind="stable")
        ts, col, value = ts[order], col[order], value[order]
        stamps, starts = np.unique(ts, return_index=True)
        ends = np.append(starts[1:], len(ts))
        out_ts, out = [], []
        for t, a, b in zip(stamps.tolist(), starts.tolist(), ends.tolist(), strict=True):  # one step per row
            self.last[col[a:b]] = value[a:b]
            if not np.isnan(self.last).any():
                out_ts.append(t)
                out.append(self.last.copy())
        self.last_ts = int(stamps[-1])
        return np.asarray(out_ts, np.int64), (np.vstack(out) if out else np.empty((0, len(self.sensors))))


class UnitWatch:
    def __init__(self, unit_id: int, model: Model, sensors: np.ndarray, clear_rows: int, active: bool) -> None:
        self.unit_id, self.model, self.clear_rows = unit_id, model, clear_rows
        self.hold = SampleHold(sensors)
        self.active, self.quiet = active, 0

    def observe(self, batch: ReadingBatch, size: int) -> list[UnitEvent]:
        ts, x = self.hold.rows(batch, size)
        if not len(ts):
            return []
        scores, flags = self.model.score(x)
        events: list[UnitEvent] = []
        for i in range(len(ts)):  # transitions are rare; the scoring above is vectorized
            if flags[i]:
                self.quiet = 0
                if not self.active:
                    self.active = True
                    who = ", ".join(f"{tag} {share:.0%}" for tag, share in self.model.culprits(x[i:i + 1])[0])
                    events.append(UnitEvent(self.unit_id, True, int(ts[i]), float(scores[i]),
                                            f"score {scores[i]:.4g} above threshold {self.model.threshold:.4g}; "
                                            f"most from {who}"))
            elif self.active:
                self.quiet += 1
                if self.quiet >= self.clear_rows:
                    self.active, self.quiet = False, 0
                    events.append(UnitEvent(self.unit_id, False, int(ts[i]), float(scores[i]),
                                            f"score {scores[i]:.4g} below threshold {self.model.threshold:.4g} "
                                            f"for {self.clear_rows} rows"))
        return events


class UnitMonitor:
    """Every unit of the catalog with a usable model; rebuilt on a catalog change, keeping the stream
    of units whose model did not change."""

    def __init__(self) -> None:
        self.watches: dict[int, UnitWatch] = {}
        self._models: dict[int, dict] = {}

    def load(self, index: SensorIndex, active: set[int]) -> None:
        watches: dict[int, UnitWatch] = {}
        for uid, u in (index.units or {}).items():
            if uid in self.watches and self._models.get(uid) == u.model:
                watches[uid] = self.watches[uid]
                continue
            try:
                model = Model.from_dict(u.model)
            except FitError as e:
                log.error("unit %s: %s; it is not watched", u.code, e)
                continue
            ids = [index.tag_to_id.get(t) for t in model.columns]
            if any(i is None for i in ids):
                log.error("unit %s: its model names sensors the catalog lacks; it is not watched", u.code)
                continue
            watches[uid] = UnitWatch(uid, model, np.asarray(ids, np.int64), u.clear_rows, uid in active)
            self._models[uid] = u.model
        self.watches = watches

    def observe(self, batch: ReadingBatch, index: SensorIndex) -> list[UnitEvent]:
        if not self.watches or not len(batch):
            return []
        events: list[UnitEvent] = []
        for w in self.watches.values():
            events += w.observe(batch, index.size)
        return events
