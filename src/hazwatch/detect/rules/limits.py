"""LL/L/H/HH limits with deadband, on-delay and off-delay, evaluated for a whole batch at once.

Each (sensor, condition) pair is a two-stage filter over the sensor's readings in time order:
  1. hysteresis: the raw condition sets at the limit and resets only past limit ∓ deadband;
  2. delays: the alarm turns on once the raw condition has held for on_delay, and off once it
     has been clear for off_delay.
Both stages are "last decisive event wins" recurrences, so they become forward fills over the
batch (np.maximum.accumulate of event positions), seeded per sensor from the carried state.
Timers that expire without a new reading are handled by `tick`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.batch import NO_TS, Quality, ReadingBatch
from hazwatch.domain.findings import Transitions
from hazwatch.domain.limits import DIRECTIONS

SINCE_NEVER = -(2**62)  # "clear since forever": far enough back that every delay has passed
_UP = np.array(DIRECTIONS) > 0


@dataclass
class LimitState:
    """Per-sensor state in arrays, one slot per sensor id."""

    raw: np.ndarray  # (n, 4) bool: condition after hysteresis
    since: np.ndarray  # (n, 4) int64: when the current raw run began
    active: np.ndarray  # (n, 4) bool: alarm condition after delays
    last_ts: np.ndarray  # (n,) int64: newest evaluated reading
    last_value: np.ndarray  # (n,) float64
    dirty: np.ndarray  # (n,) bool: changed since the last checkpoint

    @classmethod
    def empty(cls, n: int) -> LimitState:
        return cls(np.zeros((n, 4), bool), np.full((n, 4), SINCE_NEVER, np.int64), np.zeros((n, 4), bool),
                   np.full(n, NO_TS, np.int64), np.full(n, np.nan), np.zeros(n, bool))

    def grow(self, n: int) -> None:
        old = len(self.last_ts)
        if n <= old:
            return
        fresh = LimitState.empty(n)
        for name in ("raw", "since", "active", "last_ts", "last_value", "dirty"):
            getattr(fresh, name)[:old] = getattr(self, name)
            setattr(self, name, getattr(fresh, name))

    def snapshot(self, sensors: np.ndarray) -> dict:
        """Plain, JSON-able state of the given sensors (checkpoints and tests; never pickles)."""
        return {
            "sensor": sensors.tolist(),
            "raw": self.raw[sensors].tolist(),
            "since": self.since[sensors].tolist(),
            "active": self.active[sensors].tolist(),
            "last_ts": self.last_ts[sensors].tolist(),
            "last_value": [None if np.isnan(x) else x for x in self.last_value[sensors].tolist()],
        }

    def restore(self, state: dict) -> None:
        s = np.asarray(state["sensor"], np.int64)
        if not len(s):
            return
        self.grow(int(s.max()) + 1)
        self.raw[s] = np.asarray(state["raw"], bool)
        self.since[s] = np.asarray(state["since"], np.int64)
        self.active[s] = np.asarray(state["active"], bool)
        self.last_ts[s] = np.asarray(state["last_ts"], np.int64)
        self.last_value[s] = np.asarray([np.nan if x is None else x for x in state["last_value"]], float)


def _fill(events: np.ndarray, values: np.ndarray, carry: np.ndarray, g0: np.ndarray) -> np.ndarray:
    """Forward-fill `values` from rows where `events` is set, within each sensor group; rows
    before the group's first event take `carry` (the state before this batch)."""
    m = events.shape[0]
    rows = np.arange(m)[:, None]
    pos = np.maximum.accumulate(np.where(events, rows, -1), axis=0)
    valid = pos >= g0[:, None]
    picked = np.take_along_axis(values, np.maximum(pos, 0), axis=0)
    return np.where(valid, picked, carry)


def _previous(now: np.ndarray, carry: np.ndarray, starts: np.ndarray) -> np.ndarray:
    prev = np.empty_like(now)
    prev[1:] = now[:-1]
    prev[starts] = carry[starts]
    return prev


class LimitEvaluator:
    def __init__(self, size: int = 0) -> None:
        self.state = LimitState.empty(size)

    def evaluate(self, batch: ReadingBatch, index: SensorIndex) -> Transitions:
        """`batch` sorted by (sensor, ts). Bad-quality readings, sensors out of use and readings
        not newer than the sensor's evaluated state are left out: they neither raise nor clear."""
        st = self.state
        st.grow(index.size)
        s0 = batch.sensor
        use = (batch.quality != Quality.BAD) & index.in_use[s0] & (batch.ts > st.last_ts[s0])
        if not use.all():
            batch = batch.take(np.flatnonzero(use))
        m = len(batch)
        if m == 0:
            return Transitions.empty()
        s, t, v = batch.sensor, batch.ts, batch.value
        starts = np.ones(m, bool)
        starts[1:] = s[1:] != s[:-1]
        g0 = np.maximum.accumulate(np.where(starts, np.arange(m), 0))

        lim = index.limits[s]
        db = index.deadband[s][:, None]
        vv = v[:, None]
        with np.errstate(invalid="ignore"):
            set_ = np.where(_UP, vv >= lim, vv <= lim)
            reset = np.where(_UP, vv < lim - db, vv > lim + db) | np.isnan(lim)
        raw = _fill(set_ | reset, set_, st.raw[s], g0)

        raw_prev = _previous(raw, st.raw[s], starts)
        tt = np.broadcast_to(t[:, None], raw.shape)
        run_start = _fill(raw != raw_prev, tt, st.since[s], g0)

        held = tt - run_start
        on_evt = raw & (held >= index.on_delay_us[s][:, None])
        off_evt = ~raw & (held >= index.off_delay_us[s][:, None])
        active = _fill(on_evt | off_evt, on_evt, st.active[s], g0)
        active_prev = _previous(active, st.active[s], starts)

        rows, conds = np.nonzero(active != active_prev)
        out = Transitions(s[rows], conds.astype(np.int8), t[rows], v[rows], active[rows, conds])

        ends = np.ones(m, bool)
        ends[:-1] = starts[1:]
        se = s[ends]
        st.raw[se], st.since[se], st.active[se] = raw[ends], run_start[ends], active[ends]
        st.last_ts[se], st.last_value[se] = t[ends], v[ends]
        st.dirty[se] = True
        return out

    def tick(self, now_us: int, index: SensorIndex) -> Transitions:
        """Fire delay timers that expired with no reading, and clear alarms whose limit was removed."""
        st = self.state
        st.grow(index.size)
        n = index.size
        raw, active, since = st.raw[:n], st.active[:n], st.since[:n]
        on_at = since + index.on_delay_us[:, None]
        off_at = since + index.off_delay_us[:, None]
        use = index.in_use[:, None] & index.exists[:, None]
        unset = np.isnan(index.limits) & active
        fire_on = use & raw & ~active & (on_at <= now_us) & ~np.isnan(index.limits)
        fire_off = (use & ~raw & active & (off_at <= now_us)) | unset
        s_on, k_on = np.nonzero(fire_on)
        s_off, k_off = np.nonzero(fire_off)
        if not (len(s_on) or len(s_off)):
            return Transitions.empty()
        ts_off = np.where(unset[s_off, k_off], now_us, off_at[s_off, k_off])
        out = Transitions(
            np.concatenate([s_on, s_off]).astype(np.int32),
            np.concatenate([k_on, k_off]).astype(np.int8),
            np.concatenate([on_at[s_on, k_on], ts_off]),
            np.concatenate([st.last_value[s_on], st.last_value[s_off]]),
            np.concatenate([np.ones(len(s_on), bool), np.zeros(len(s_off), bool)]),
        )
        st.active[s_on, k_on] = True
        st.active[s_off, k_off] = False
        st.raw[s_off, k_off] &= ~unset[s_off, k_off]
        st.dirty[out.sensor] = True
        return out.sorted()
