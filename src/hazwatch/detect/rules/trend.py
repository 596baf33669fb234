"""Warning in advance: rate of change (ROC) and trend-to-limit prediction (TREND).

Each watched sensor keeps a short history in a ring of SLOTS samples, taken no closer together
than its longest window / (SLOTS - 1), so the ring always spans the window whatever the reporting
rate; the state is arrays indexed by sensor, and a batch updates it with each sensor's newest
reading.

- ROC: the change over roc_window_s, per minute. Raised when it exceeds roc_limit either way,
  cleared when it falls to roc_limit - roc_deadband.
- TREND: a Theil-Sen slope (the median of the pairwise slopes, which one spike cannot tilt) over
  trend_window_s, projected from the robust current level. Rising toward H or falling toward L
  with the crossing predicted within trend_horizon_s raises "predicted to cross H in N min"; it is
  withdrawn when the trend turns or the crossing moves past 1.25 x the horizon, and when the limit
  itself is crossed (the limit alarm then speaks for the sensor).

Both need a history of at least half the window before they judge, so a sensor that just started
reporting does not warn on two points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.batch import US, ReadingBatch
from hazwatch.domain.limits import CONDITIONS

ROC, TREND = "ROC", "TREND"
WARNINGS = (ROC, TREND)
SLOTS = 32
MIN_SAMPLES = 5
WITHDRAW = 1.25  # hysteresis on the predicted time to the crossing
NEVER = np.iinfo(np.int64).min
_H, _L = CONDITIONS.index("H"), CONDITIONS.index("L")
_I, _J = np.triu_indices(SLOTS, k=1)


@dataclass(frozen=True)
class EarlyWarning:
    sensor: int
    condition: str
    active: bool
    ts: int
    value: float | None  # ROC: units per minute; TREND: minutes to the crossing
    comment: str


class TrendMonitor:
    def __init__(self, size: int = 0) -> None:
        self.ts = np.full((0, SLOTS), NEVER, np.int64)
        self.value = np.full((0, SLOTS), np.nan)
        self.head = np.zeros(0, np.int64)  # next slot to write
        self.state = {w: np.zeros(0, bool) for w in WARNINGS}
        self.grow(size)

    def grow(self, size: int) -> None:
        n = len(self.head)
        if size <= n:
            return
        self.ts = np.vstack([self.ts, np.full((size - n, SLOTS), NEVER, np.int64)])
        self.value = np.vstack([self.value, np.full((size - n, SLOTS), np.nan)])
        self.head = np.concatenate([self.head, np.zeros(size - n, np.int64)])
        for w in WARNINGS:
            self.state[w] = np.concatenate([self.state[w], np.zeros(size - n, bool)])

    def restore(self, active: list[tuple[int, str]]) -> None:
        for sensor, condition in active:
            if condition in self.state:
                self.grow(sensor + 1)
                self.state[condition][sensor] = True

    def observe(self, batch: ReadingBatch, index: SensorIndex) -> list[EarlyWarning]:
        self.grow(index.size)
        if not len(batch):
            return []
        last = batch.newest_per_sensor()
        s = batch.sensor[last]
        roc_on = np.isfinite(index.roc_limit[s])
        trend_on = index.trend_horizon_us[s] > 0
        watched = (roc_on | trend_on) & np.isfinite(batch.value[last])
        if not watched.any():
            return []
        s, t, v = s[watched], batch.ts[last][watched], batch.value[last][watched]
        span = np.maximum(np.where(roc_on[watched], index.roc_window_us[s], 0),
                          np.where(trend_on[watched], index.trend_window_us[s], 0))
        step = span // (SLOTS - 1)
        newest = self.ts[s, (self.head[s] - 1) % SLOTS]
        take = (newest == NEVER) | (t - newest >= step)
        if not take.any():
            return []
        s, t, v = s[take], t[take], v[take]
        h = self.head[s]
        self.ts[s, h], self.value[s, h] = t, v
        self.head[s] = (h + 1) % SLOTS
        out: list[EarlyWarning] = []
        self._roc(s, t, v, index, out)
        self._trend(s, t, index, out)
        return out

    def _roc(self, s: np.ndarray, t: np.ndarray, v: np.ndarray, index: SensorIndex, out: list[EarlyWarning]) -> None:
        on = np.isfinite(index.roc_limit[s])
        s, t, v = s[on], t[on], v[on]
        if not len(s):
            return
        win = index.roc_window_us[s]
        ts = self.ts[s]
        inside = (ts != NEVER) & (ts >= (t - win)[:, None])
        oldest = np.where(inside, ts, np.iinfo(np.int64).max).argmin(axis=1)
        t0 = ts[np.arange(len(s)), oldest]
        v0 = self.value[s, oldest]
        spanned = t - t0
        ready = (spanned >= win // 2) & (spanned > 0)
        rate = np.where(ready, (v - v0) / np.maximum(spanned, 1) * (60 * US), 0.0)
        limit, band = index.roc_limit[s], index.roc_deadband[s]
        was = self.state[ROC][s]
        now = np.where(was, np.abs(rate) > limit - band, np.abs(rate) > limit) & ready | (was & ~ready)
        unit = [index.info.get(int(x), {}).get("unit", "") for x in s[now != was]]
        for k, i in enumerate(np.flatnonzero(now != was).tolist()):
            self.state[ROC][s[i]] = now[i]
            what = (f"changing at {rate[i]:+.4g} {unit[k]}/min over {win[i] / US:g} s, limit {limit[i]:g}/min"
                    if now[i] else f"rate back to {rate[i]:+.4g} {unit[k]}/min")
            out.append(EarlyWarning(int(s[i]), ROC, bool(now[i]), int(t[i]), float(rate[i]), what))

    def _trend(self, s: np.ndarray, t: np.ndarray, index: SensorIndex, out: list[EarlyWarning]) -> None:
        on = index.trend_horizon_us[s] > 0
        s, t = s[on], t[on]
        if not len(s):
            return
        win = index.trend_window_us[s]
        ts, vs = self.ts[s], self.value[s]
        inside = (ts != NEVER) & (ts >= (t - win)[:, None])
        count = inside.sum(axis=1)
        first = np.where(inside, ts, np.iinfo(np.int64).max).min(axis=1)
        ready = (count >= MIN_SAMPLES) & (t - first >= win // 2)
        # Theil-Sen: the median of the slopes between every pair of samples in the window
        rel = np.where(inside, (ts - t[:, None]) / (60 * US), np.nan)  # minutes before now (<= 0)
        val = np.where(inside, vs, np.nan)
        dt = rel[:, _J] - rel[:, _I]
        with np.errstate(invalid="ignore", divide="ignore"):
            slopes = np.where(dt != 0, (val[:, _J] - val[:, _I]) / dt, np.nan)
            slope = np.nanmedian(np.where(ready[:, None], slopes, 0.0), axis=1)
            level = np.nanmedian(val - slope[:, None] * rel, axis=1)  # robust value now
        slope = np.nan_to_num(slope)
        hi, lo = index.limits[s, _H], index.limits[s, _L]
        horizon = index.trend_horizon_us[s] / (60 * US)  # minutes
        with np.errstate(invalid="ignore", divide="ignore"):
            to_h = np.where((slope > 0) & (level < hi), (hi - level) / slope, np.inf)
            to_l = np.where((slope < 0) & (level > lo), (lo - level) / slope, np.inf)
        minutes = np.minimum(to_h, to_l)
        target = np.where(to_h <= to_l, "H", "L")
        was = self.state[TREND][s]
        crossed = (level >= hi) | (level <= lo)
        now = np.where(was, minutes <= WITHDRAW * horizon, minutes <= horizon) & ready & ~crossed
        now |= was & ~ready & ~crossed
        for i in np.flatnonzero(now != was).tolist():
            sid = int(s[i])
            self.state[TREND][sid] = now[i]
            info = index.info.get(sid, {})
            limit = hi[i] if target[i] == "H" else lo[i]
            if now[i]:
                what = (f"predicted to cross {target[i]} ({limit:g} {info.get('unit', '')}) in {minutes[i]:.1f} min "
                        f"(trend {slope[i]:+.4g} {info.get('unit', '')}/min)")
            elif crossed[i]:
                what = "the limit was reached; the limit alarm takes over"
            else:
                what = f"trend turned ({slope[i]:+.4g} {info.get('unit', '')}/min); no crossing within the horizon"
            out.append(EarlyWarning(sid, TREND, bool(now[i]), int(t[i]),
                               float(minutes[i]) if np.isfinite(minutes[i]) else None, what))
