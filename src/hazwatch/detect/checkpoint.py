"""Save and load LimitState rows (only the sensors that changed since the last save)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, Engine, delete, insert, select

from hazwatch.detect.models import LimitStateRow
from hazwatch.detect.rules.limits import LimitState

_T = LimitStateRow.__table__
_BITS = np.array([1, 2, 4, 8])


def save(conn: Connection, state: LimitState, sensors: np.ndarray) -> None:
    sensors = np.unique(sensors)
    if not len(sensors):
        return
    raw_bits = (state.raw[sensors] * _BITS).sum(axis=1)
    active_bits = (state.active[sensors] * _BITS).sum(axis=1)
    since = state.since[sensors]
    rows = [
        {"sensor_id": s, "raw_bits": r, "active_bits": a, "since_ll": x[0], "since_l": x[1], "since_h": x[2],
         "since_hh": x[3], "last_ts": lt, "last_value": None if lv != lv else lv}
        for s, r, a, x, lt, lv in zip(sensors.tolist(), raw_bits.tolist(), active_bits.tolist(), since.tolist(),
                                      state.last_ts[sensors].tolist(), state.last_value[sensors].tolist(),
                                      strict=True)
    ]
    conn.execute(delete(_T).where(_T.c.sensor_id.in_(sensors.tolist())))
    conn.execute(insert(_T), rows)
    state.dirty[sensors] = False


def load(engine: Engine, state: LimitState) -> None:
    with engine.connect() as conn:
        rows = conn.execute(select(_T)).all()
    if not rows:
        return
    s = np.array([r.sensor_id for r in rows], np.int64)
    state.grow(int(s.max()) + 1)
    raw = np.array([r.raw_bits for r in rows])[:, None] & _BITS
    act = np.array([r.active_bits for r in rows])[:, None] & _BITS
    state.raw[s] = raw != 0
    state.active[s] = act != 0
    state.since[s] = np.array([[r.since_ll, r.since_l, r.since_h, r.since_hh] for r in rows], np.int64)
    state.last_ts[s] = np.array([r.last_ts for r in rows], np.int64)
    state.last_value[s] = np.array([np.nan if r.last_value is None else r.last_value for r in rows])
