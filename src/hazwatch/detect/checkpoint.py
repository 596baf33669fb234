"""Save and load LimitState rows (only the sensors that changed since the last save)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, Engine, select

from hazwatch.detect.models import LimitStateRow
from hazwatch.detect.rules.limits import LimitState

_STATE = LimitStateRow.__table__
_BITS = np.array([1, 2, 4, 8])


_COLS = ("sensor_id", "raw_bits", "active_bits", "since_ll", "since_l", "since_h", "since_hh", "last_ts",
         "last_value")


def save(conn: Connection, state: LimitState, sensors: np.ndarray) -> None:
    """Upsert the sensors' rows: one driver-level executemany of plain tuples (built column-wise),
    since at tens of thousands of sensors a row object per sensor is most of a checkpoint's time."""
    sensors = np.unique(sensors)
    if not len(sensors):
        return
    raw_bits = (state.raw[sensors] * _BITS).sum(axis=1)
    active_bits = (state.active[sensors] * _BITS).sum(axis=1)
    since = state.since[sensors]
    value = state.last_value[sensors]
    rows = list(zip(sensors.tolist(), raw_bits.tolist(), active_bits.tolist(), since[:, 0].tolist(),
                    since[:, 1].tolist(), since[:, 2].tolist(), since[:, 3].tolist(),
                    state.last_ts[sensors].tolist(),
                    np.where(np.isnan(value), None, value.astype(object)).tolist(), strict=True))
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO {_STATE.name} ({', '.join(_COLS)}) VALUES ({', '.join([mark] * len(_COLS))}) "
        f"ON CONFLICT (sensor_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLS[1:])}", rows)
    state.dirty[sensors] = False


def load(engine: Engine, state: LimitState) -> None:
    with engine.connect() as conn:
        rows = conn.execute(select(_STATE)).all()
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
