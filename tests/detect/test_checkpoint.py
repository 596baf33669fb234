"""Limit state checkpoints: saved for the sensors that changed (a second save of a sensor replaces
its row), loaded back bit for bit, on the embedded database and on PostgreSQL."""

from __future__ import annotations

import numpy as np

from hazwatch.detect import checkpoint
from hazwatch.detect.rules.limits import LimitState


def test_saved_state_loads_back_and_a_second_save_replaces_the_row(relational_engine):
    engine = relational_engine
    st = LimitState.empty(5000)
    rng = np.random.default_rng(3)
    st.raw[:] = rng.random((5000, 4)) < 0.3
    st.active[:] = rng.random((5000, 4)) < 0.2
    st.since[:] = rng.integers(0, 10**15, (5000, 4))
    st.last_ts[:] = rng.integers(0, 10**15, 5000)
    st.last_value[:] = rng.normal(size=5000)
    st.last_value[7] = np.nan  # a sensor whose last value was not a number
    st.dirty[:] = True
    with engine.begin() as conn:
        checkpoint.save(conn, st, np.arange(5000))
    assert not st.dirty.any()
    st.last_value[11], st.active[11] = 42.0, [True, False, True, False]
    with engine.begin() as conn:  # sensors 11 and 12 again, in any order and repeated
        checkpoint.save(conn, st, np.array([12, 11, 12]))
    back = LimitState.empty(1)
    checkpoint.load(engine, back)
    assert back.raw.shape == st.raw.shape
    for field in ("raw", "active", "since", "last_ts"):
        assert np.array_equal(getattr(back, field), getattr(st, field)), field
    assert np.array_equal(back.last_value, st.last_value, equal_nan=True)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM limit_state").scalar() == 5000
