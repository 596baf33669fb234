"""A gateway's backlog into a sensor that also gets live readings: the duplicate check asks the
store once when the backlog starts, then knows the gap it fills; a resent reading is still
refused as already stored, wherever it lies."""

from __future__ import annotations

import numpy as np

from hazwatch.domain.batch import US
from hazwatch.normalize import History, Normalizer, RawBatch
from hazwatch.store.duckdb import DuckDBStore

T0 = 1_800_000_000 * US


class CountingStore(DuckDBStore):
    def __init__(self) -> None:
        super().__init__(":memory:")
        self.asked = 0

    def existing(self, sensor, ts):
        self.asked += 1
        return super().existing(sensor, ts)


class Index:
    """The few fields validation reads: three sensors, range 0..100."""

    size = 3
    exists = np.ones(3, bool)
    range_low = np.zeros(3)
    range_high = np.full(3, 100.0)
    info: dict = {}


def _raw(sensor: list[int], ts: list[int]) -> RawBatch:
    n = len(sensor)
    return RawBatch([f"S{s}" for s in sensor], np.asarray(sensor, np.int32), np.asarray(ts, np.int64),
                    np.ones(n), np.zeros(n, np.uint8))


def _put(norm: Normalizer, store, sensor: list[int], ts: list[int]) -> dict[int, str]:
    batch, reasons = norm.validate(_raw(sensor, ts), Index(), T0 + 10**12)
    store.append(batch)
    norm.stored(batch)
    return reasons


def test_a_backlog_is_checked_against_the_store_once_and_duplicates_still_refused():
    store = CountingStore()
    norm = Normalizer(History.of(store), 300)
    # live readings: the newest is at +1000 s; an old one at +100 s sits inside the coming backlog
    assert _put(norm, store, [1, 1, 1], [T0 + 100 * US, T0 + 1000 * US, T0 + 1001 * US]) == {}
    assert store.asked == 0  # live data is newer than anything stored: no question to the store
    # the backlog, in time order, 10 readings a batch
    for k in range(5):
        assert _put(norm, store, [1] * 10, [T0 + (k * 10 + j) * US for j in range(10)]) == {}
    assert store.asked == 1  # asked when it started; the next four batches lay in the known gap
    # the backlog reaches the stored reading at +100 s: a question again, and the duplicate is refused
    reasons = _put(norm, store, [1, 1, 1], [T0 + 99 * US, T0 + 100 * US, T0 + 101 * US])
    assert reasons == {1: "duplicate (sensor, ts): already stored"}
    # a reading resent from the middle of the backlog is refused, though the gap moved past it
    assert _put(norm, store, [1], [T0 + 42 * US]) == {0: "duplicate (sensor, ts): already stored"}
    assert store.count() == 3 + 50 + 2
    # every reading stored once
    got = store.window(T0, T0 + 2000 * US)
    pairs = list(zip(got.sensor.tolist(), got.ts.tolist(), strict=True))
    assert len(pairs) == len(set(pairs)) == 55
