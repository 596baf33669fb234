"""Values for every sensor of a catalog, one reading a second, with scripted faults.

The faults repeat every `cycle_s` seconds, so a long demo keeps showing alarms rise and clear:
  gas leak ramp (GT305, neighbours GT304/GT306), tank overfill (TK103-LT), temperature runaway
  with lost cooling (R502), stuck transmitter (R503-FT-FEED), communication loss (GT321-GT325),
  ammonia release (AT805), and a failed vibration probe reporting bad quality (K602-VT).
"""

from __future__ import annotations

import numpy as np

from hazwatch.catalog.schema import CatalogDoc
from hazwatch.domain.batch import QUALITY_DTYPE, TS_DTYPE, Quality

COMM_LOSS = ("GT321", "GT322", "GT323", "GT324", "GT325")


def _ramp(t: float, start: float, rate: float, peak: float, hold_until: float, fall: float) -> float:
    """Rise from 0 at `start` by `rate`/s up to `peak`, hold, then fall by `fall`/s to 0."""
    if t < start:
        return 0.0
    if t < hold_until:
        return min(peak, rate * (t - start))
    return max(0.0, min(peak, rate * (hold_until - start)) - fall * (t - hold_until))


class ParkSimulator:
    def __init__(self, doc: CatalogDoc, seed: int = 7, cycle_s: float = 300.0) -> None:
        self.cycle_s = cycle_s
        self.tags = [s.tag for s in doc.sensors]
        self.pos = {t: i for i, t in enumerate(self.tags)}
        n = len(self.tags)
        rng = np.random.default_rng(seed)
        base, amp = np.zeros(n), np.zeros(n)
        self.low, self.high = np.zeros(n), np.zeros(n)
        for i, s in enumerate(doc.sensors):
            self.low[i], self.high[i] = s.range_low, s.range_high
            lo = max(v for v in (s.range_low, s.ll, s.l) if v is not None)
            hi = min(v for v in (s.range_high, s.h, s.hh) if v is not None)
            span = hi - lo
            if s.kind in ("combustible_gas", "toxic_gas"):
                base[i], amp[i] = 0.04 * hi, 0.02 * hi
            elif s.kind == "oxygen":
                base[i], amp[i] = 20.9, 0.05
            elif s.kind == "state" or (s.kind == "other" and (s.range_low, s.range_high) == (0, 1)):
                # a running signal reads 1; a signal that alarms at 1 (a spark, a burst vent) reads 0
                base[i], amp[i] = (0.0 if s.h is not None else 1.0), 0.0
            else:
                base[i], amp[i] = lo + span * rng.uniform(0.35, 0.6), span * 0.015
        self.base, self.amp = base, amp
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.period = rng.uniform(60, 600, n)
        self.rng = rng
        self.keep = np.ones(n, bool)
        self.stuck_value = 23.4567

    def _set(self, values: np.ndarray, tag: str, value: float) -> None:
        i = self.pos.get(tag)
        if i is not None:
            values[i] = value

    def _add(self, values: np.ndarray, tag: str, delta: float) -> None:
        i = self.pos.get(tag)
        if i is not None:
            values[i] += delta

    def values_at(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Values, qualities and a send mask at `t` seconds into the run."""
        c = t % self.cycle_s
        v = self.base + self.amp * (np.sin(2 * np.pi * t / self.period + self.phase)
                                    + 0.3 * self.rng.standard_normal(len(self.base)))
        q = np.zeros(len(v), QUALITY_DTYPE)
        leak = _ramp(c, 5, 2.0, 70, 70, 3.0)
        self._add(v, "GT305", leak)
        self._add(v, "GT304", leak * 0.45)
        self._add(v, "GT306", leak * 0.4)
        level = 16.4 + 0.08 * min(c, 40) - 0.05 * max(0.0, min(c, 120) - 40)
        self._set(v, "TK103-LT", level if c < 120 else 15.0 + 0.01 * self.rng.standard_normal())
        # a slow fill: the trend predicts the H crossing about a minute before it happens
        self._set(v, "TK108-LT", 15.5 + 0.02 * min(c, 110) + 0.005 * self.rng.standard_normal() if c < 110
                  else 15.5 + 0.01 * self.rng.standard_normal())
        heat = _ramp(c, 20, 1.5, 90, 80, 1.6)
        self._add(v, "R502-TT", heat)
        self._add(v, "R502-PT", heat * 0.012)
        if 15 <= c < 80:
            self._set(v, "R502-FT-CW", 12.0 + 0.3 * self.rng.standard_normal())
        if 15 <= c < 150:
            self._set(v, "R503-FT-FEED", self.stuck_value)
        if 40 <= c < 90:
            self._set(v, "AT805", 24.0 + self.rng.standard_normal())
        i = self.pos.get("K602-VT")
        if i is not None and 50 <= c < 60:
            v[i], q[i] = 49.0, Quality.BAD
        keep = self.keep.copy()
        if 30 <= c < 120:
            for tag in COMM_LOSS:
                if tag in self.pos:
                    keep[self.pos[tag]] = False
        np.clip(v, self.low, self.high, out=v)
        return v, q, keep

    def step(self, t: float, now_us: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """One reading per sending sensor, stamped now: (tags, ts µs, values, qualities)."""
        v, q, keep = self.values_at(t)
        idx = np.flatnonzero(keep)
        tags = [self.tags[i] for i in idx.tolist()]
        return tags, np.full(len(idx), now_us, TS_DTYPE), v[idx], q[idx]
