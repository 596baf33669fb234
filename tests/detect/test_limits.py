"""Limit evaluation: the vectorized evaluator must match a plain per-reading state machine, and
deadband, delays, timers and quality must behave as operators expect."""

from __future__ import annotations

import numpy as np
import pytest

from hazwatch.catalog.index import SensorIndex
from hazwatch.detect.rules.limits import LimitEvaluator
from hazwatch.domain.batch import US, Quality, ReadingBatch

T0 = 1_800_000_000 * US


def make_index(n: int, limits, deadband=0.0, on_s=0.0, off_s=0.0) -> SensorIndex:
    lim = np.tile(np.asarray(limits, float), (n, 1))
    return SensorIndex(
        revision=1, tag_to_id={f"S{i}": i for i in range(n)}, tags=np.array([f"S{i}" for i in range(n)], object),
        exists=np.ones(n, bool), range_low=np.full(n, -1e9), range_high=np.full(n, 1e9), limits=lim,
        priority=np.full((n, 4), 2, np.int8), deadband=np.full(n, deadband),
        on_delay_us=np.full(n, int(on_s * US), np.int64), off_delay_us=np.full(n, int(off_s * US), np.int64),
        in_use=np.ones(n, bool), stale_us=np.zeros(n, np.int64), flat_us=np.zeros(n, np.int64),
        roc_limit=np.full(n, np.nan), roc_window_us=np.zeros(n, np.int64), roc_deadband=np.zeros(n),
        trend_horizon_us=np.zeros(n, np.int64), trend_window_us=np.zeros(n, np.int64),
        org_id=np.zeros(n, np.int32), device_id=np.zeros(n, np.int32), info={},
        devices={}, device_codes={})


def reference(values_by_sensor, limits, db, on_us, off_us):
    """One reading at a time, the way the standard describes it."""
    out = []
    for s, series in values_by_sensor.items():
        for k, lim in enumerate(limits):
            if lim is None:
                continue
            up = k >= 2
            raw, since, active = False, -(2**62), False
            for t, v in series:
                if (v >= lim) if up else (v <= lim):
                    new_raw = True
                elif (v < lim - db) if up else (v > lim + db):
                    new_raw = False
                else:
                    new_raw = raw
                if new_raw != raw:
                    raw, since = new_raw, t
                new_active = active
                if raw and t - since >= on_us:
                    new_active = True
                elif not raw and t - since >= off_us:
                    new_active = False
                if new_active != active:
                    out.append((s, k, t, new_active))
                    active = new_active
    return sorted(out)


def run(ev: LimitEvaluator, index: SensorIndex, batches) -> list:
    got = []
    for b in batches:
        tr = ev.evaluate(b.sorted(), index)
        got += list(zip(tr.sensor.tolist(), tr.cond.tolist(), tr.ts.tolist(), tr.active.tolist(), strict=True))
    return sorted(got)


@pytest.mark.parametrize("seed", range(8))
def test_vectorized_matches_reference_across_batch_boundaries(seed):
    rng = np.random.default_rng(seed)
    n, steps = 5, 400
    limits = [10.0, 20.0, 80.0, 90.0]
    db, on_s, off_s = float(rng.choice([0, 2, 5])), float(rng.choice([0, 3])), float(rng.choice([0, 4]))
    index = make_index(n, limits, db, on_s, off_s)
    walk = 50 + np.cumsum(rng.normal(0, 6, (steps, n)), axis=0)
    ts = T0 + np.arange(steps) * US
    series = {s: [(int(ts[i]), float(walk[i, s])) for i in range(steps)] for s in range(n)}
    expected = reference(series, limits, db, int(on_s * US), int(off_s * US))
    # Feed the same readings in random-sized batches, interleaved across sensors.
    cuts = np.sort(rng.choice(np.arange(1, steps), size=12, replace=False))
    batches = []
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, steps], strict=True):
        s = np.repeat(np.arange(n)[None, :], hi - lo, axis=0).ravel()
        t = np.repeat(ts[lo:hi], n)
        batches.append(ReadingBatch.of(s, t, walk[lo:hi].ravel()))
    got = run(LimitEvaluator(n), index, batches)
    assert expected, "the random walk should cross some limits"
    assert got == expected


def test_deadband_holds_alarm_until_value_is_clear_of_the_band():
    index = make_index(1, [np.nan, np.nan, 80.0, np.nan], deadband=5.0)
    ev = LimitEvaluator(1)
    vals = [79, 80, 77, 76, 75.5, 74.9]
    tr = ev.evaluate(ReadingBatch.of([0] * 6, T0 + np.arange(6) * US, vals), index)
    assert tr.active.tolist() == [True, False]
    assert tr.ts.tolist() == [T0 + 1 * US, T0 + 5 * US]
    assert tr.value.tolist() == [80, 74.9]


def test_on_delay_ignores_short_excursions_and_timer_fires_without_new_readings():
    index = make_index(1, [np.nan, np.nan, 25.0, np.nan], on_s=3.0)
    ev = LimitEvaluator(1)
    # a 2-second excursion: no alarm
    tr = ev.evaluate(ReadingBatch.of([0] * 4, T0 + np.arange(4) * US, [30, 30, 10, 10]), index)
    assert len(tr) == 0
    # the condition returns and then no reading arrives: the timer raises it 3 s after the crossing
    tr = ev.evaluate(ReadingBatch.of([0], [T0 + 10 * US], [40]), index)
    assert len(tr) == 0
    assert len(ev.tick(T0 + 12 * US, index)) == 0
    tr = ev.tick(T0 + 13 * US, index)
    assert tr.active.tolist() == [True] and tr.ts.tolist() == [T0 + 13 * US]
    assert len(ev.tick(T0 + 14 * US, index)) == 0  # fires once


def test_off_delay_keeps_alarm_through_brief_returns():
    index = make_index(1, [np.nan, np.nan, 25.0, np.nan], off_s=5.0)
    ev = LimitEvaluator(1)
    vals = [30, 10, 30, 10, 10, 10, 10, 10, 10]
    tr = ev.evaluate(ReadingBatch.of([0] * 9, T0 + np.arange(9) * US, vals), index)
    assert tr.active.tolist() == [True, False]
    assert tr.ts.tolist()[1] == T0 + 8 * US  # clear since t=3, off after 5 s


def test_bad_quality_neither_raises_nor_clears():
    index = make_index(1, [np.nan, np.nan, 25.0, np.nan])
    ev = LimitEvaluator(1)
    bad = int(Quality.BAD)
    tr = ev.evaluate(ReadingBatch.of([0, 0], [T0, T0 + US], [99, 99], [bad, bad]), index)
    assert len(tr) == 0
    ev.evaluate(ReadingBatch.of([0], [T0 + 2 * US], [99]), index)
    tr = ev.evaluate(ReadingBatch.of([0], [T0 + 3 * US], [1], [bad]), index)
    assert len(tr) == 0 and ev.state.active[0, 2]


def test_low_limits_and_high_high_raise_together_with_their_lower_level():
    index = make_index(1, [5.0, 10.0, 80.0, 90.0])
    ev = LimitEvaluator(1)
    tr = ev.evaluate(ReadingBatch.of([0, 0], [T0, T0 + US], [95, 3]), index)
    got = sorted(zip(tr.cond.tolist(), tr.active.tolist(), tr.ts.tolist(), strict=True))
    assert got == [(0, True, T0 + US), (1, True, T0 + US), (2, False, T0 + US), (2, True, T0),
                   (3, False, T0 + US), (3, True, T0)]


def test_readings_older_than_the_evaluated_state_do_not_move_it():
    index = make_index(1, [np.nan, np.nan, 25.0, np.nan])
    ev = LimitEvaluator(1)
    ev.evaluate(ReadingBatch.of([0], [T0 + 10 * US], [30]), index)
    tr = ev.evaluate(ReadingBatch.of([0], [T0 + 5 * US], [1]), index)
    assert len(tr) == 0 and ev.state.active[0, 2]


def test_snapshot_restore_round_trip_is_plain_data():
    import json

    index = make_index(3, [np.nan, 10.0, 80.0, np.nan], on_s=2)
    ev = LimitEvaluator(3)
    ev.evaluate(ReadingBatch.of([0, 1, 2], [T0] * 3, [85, 5, 50]), index)
    snap = json.loads(json.dumps(ev.state.snapshot(np.arange(3))))
    other = LimitEvaluator(0)
    other.state.restore(snap)
    for name in ("raw", "since", "active", "last_ts"):
        assert np.array_equal(getattr(other.state, name), getattr(ev.state, name))
