"""One suite, every TelemetryStore backend: embedded DuckDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from hazwatch.domain.batch import US, Quality, ReadingBatch
from hazwatch.store import TelemetryStore, open_store

T0 = 1_800_000_000 * US  # 2027-01-15


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request, tmp_path) -> Iterator[TelemetryStore]:
    if request.param == "duckdb":
        s = open_store(f"duckdb:///{tmp_path / 't.duckdb'}")
    else:
        url = request.getfixturevalue("pg_database")
        s = open_store(url)
    yield s
    s.close()


def batch(sensor, ts, value, quality=None) -> ReadingBatch:
    return ReadingBatch.of(sensor, ts, value, quality)


def test_append_then_raw_range(store):
    store.append(batch([1, 1, 2, 1], [T0, T0 + US, T0, T0 + 2 * US], [1.0, 2.0, 9.0, 3.0], [0, 1, 0, 2]))
    f = store.series(1, T0, T0 + 10 * US, None)
    assert f.columns["ts"].tolist() == [T0, T0 + US, T0 + 2 * US]
    assert f.columns["value"].tolist() == [1.0, 2.0, 3.0]
    assert f.columns["quality"].tolist() == [0, 1, 2]
    # end is exclusive, start inclusive; limit caps rows
    assert store.series(1, T0 + US, T0 + 2 * US, None).columns["value"].tolist() == [2.0]
    assert len(store.series(1, T0, T0 + 10 * US, None, limit=2)) == 2
    assert store.count() == 4


def test_downsampling_aggregates_per_bucket_without_bad_readings(store):
    n = 600
    ts = T0 + np.arange(n) * US
    v = np.arange(n, dtype=float)
    q = np.where(np.arange(n) == 599, int(Quality.BAD), 0)
    store.append(batch(np.full(n, 3), ts, v, q))
    f = store.series(3, T0, T0 + n * US, 60 * US)
    c = f.columns
    assert c["ts"].tolist() == [T0 + k * 60 * US for k in range(10)]
    assert c["min"].tolist() == [k * 60.0 for k in range(10)]
    assert c["max"].tolist()[:9] == [k * 60.0 + 59 for k in range(9)] and c["max"][9] == 598.0
    assert c["count"].tolist() == [60] * 9 + [59]
    assert c["avg"][0] == pytest.approx(29.5)
    assert c["last"].tolist()[:2] == [59.0, 119.0] and c["last"][9] == 598.0
    # buckets are aligned to `start`
    g = store.series(3, T0 + 30 * US, T0 + 150 * US, 60 * US).columns
    assert g["ts"].tolist() == [T0 + 30 * US, T0 + 90 * US] and g["count"].tolist() == [60, 60]


def test_last_ts_existing_and_readings_after(store):
    store.append(batch([1, 1, 2, 5], [T0, T0 + 5 * US, T0 + US, T0 + 86_400 * US], [1, 2, 3, 4]))
    s, t = store.last_ts()
    assert dict(zip(s.tolist(), t.tolist(), strict=True)) == {1: T0 + 5 * US, 2: T0 + US, 5: T0 + 86_400 * US}
    got = store.existing(np.array([1, 1, 2, 9], np.int32), np.array([T0, T0 + US, T0 + US, T0], np.int64))
    assert got.tolist() == [True, False, True, False]
    r = store.readings_after(np.array([1, 2, 5], np.int32), np.array([T0, T0 + US, T0], np.int64))
    assert list(zip(r.sensor.tolist(), r.ts.tolist(), strict=True)) == [(1, T0 + 5 * US), (5, T0 + 86_400 * US)]


def test_existing_is_exact_whether_the_span_holds_few_stored_rows_or_many(store):
    """A probe of 3 readings whose time span holds 20,000 stored rows (the DuckDB store matches
    those by a join) and one whose span holds a few (matched in memory): the same exact answer."""
    n = 20_000
    store.append(batch(np.arange(n) % 50, T0 + (np.arange(n) // 50) * US, np.ones(n)))
    probe_s = np.array([3, 3, 77], np.int32)
    wide = np.array([T0, T0 + 399 * US, T0 + 5 * US], np.int64)  # the span covers every stored row
    assert store.existing(probe_s, wide).tolist() == [True, True, False]
    narrow = np.array([T0 + 10 * US, T0 + 10 * US + 1, T0 + 10 * US], np.int64)  # 50 stored rows in the span
    assert store.existing(probe_s, narrow).tolist() == [True, False, False]


def test_first_after_is_the_top_of_the_gap(store):
    store.append(batch([1, 1, 1, 2], [T0, T0 + 10 * US, T0 + 20 * US, T0 + 5 * US], [1, 2, 3, 4]))
    got = store.first_after(np.array([1, 1, 1, 2, 9], np.int32),
                            np.array([T0, T0 + 10 * US, T0 + 20 * US, T0, T0], np.int64))
    top = np.iinfo(np.int64).max
    assert got.tolist() == [T0 + 10 * US, T0 + 20 * US, top, T0 + 5 * US, top]


def test_window_returns_every_sensor_in_order(store):
    store.append(batch([2, 1, 2, 1, 3], [T0 + US, T0 + 2 * US, T0, T0, T0 + 60 * US], [4.0, 2.0, 3.0, 1.0, 9.0],
                       [0, 0, 2, 0, 0]))
    w = store.window(T0, T0 + 60 * US)
    assert list(zip(w.sensor.tolist(), w.ts.tolist(), w.value.tolist(), w.quality.tolist(), strict=True)) == [
        (1, T0, 1.0, 0), (1, T0 + 2 * US, 2.0, 0), (2, T0, 3.0, 2), (2, T0 + US, 4.0, 0)]
    assert len(store.window(T0 - 10 * US, T0)) == 0


def test_empty_store_answers_empty(store):
    assert len(store.series(1, T0, T0 + US, None)) == 0
    assert len(store.series(1, T0, T0 + US, US)) == 0
    assert len(store.last_ts()[0]) == 0
    assert store.existing(np.zeros(0, np.int32), np.zeros(0, np.int64)).tolist() == []
    store.append(ReadingBatch.empty())
    assert store.count() == 0


def test_batch_is_durable_when_append_returns(store, tmp_path):
    """A second connection (another process after a crash) sees the batch at once."""
    store.append(batch([7] * 1000, T0 + np.arange(1000) * US, np.ones(1000)))
    if hasattr(store, "dsn"):
        other = open_store(store.dsn)
        assert other.count() == 1000
        other.close()
    else:
        store.close()
        reopened = open_store(f"duckdb:///{store.path}")
        assert reopened.count() == 1000
        reopened.close()


def test_postgres_keeps_each_reading_once_when_a_batch_comes_again(pg_database):
    """A worker that crashed after storing a batch but before acknowledging it: the next owner
    stores the batch again, and the stored rows must not double (the first values stay)."""
    s = open_store(pg_database)
    try:
        s.append(batch([1, 1], [T0, T0 + US], [1.0, 2.0]))
        s.append(batch([1, 1, 1], [T0, T0 + US, T0 + 2 * US], [7.0, 8.0, 3.0]))  # two again, one new
        assert s.count() == 3
        assert s.series(1, T0, T0 + 10 * US, None).columns["value"].tolist() == [1.0, 2.0, 3.0]
        s.append(batch([2], [T0 + 5 * 86_400 * US], [4.0]))  # a new day's partition after the retry path
        assert s.count() == 4
    finally:
        s.close()


def test_the_store_says_how_much_memory_its_engine_holds_here(store, request):
    """A soak reads the engine's memory apart from the Python heap: DuckDB's buffer manager holds
    what it read and wrote in this process; a server database holds none of it here."""
    import numpy as np

    n = 200_000
    store.append(batch(np.arange(n) % 100, T0 + np.arange(n) * US, np.random.default_rng(1).random(n)))
    assert store.count() == n
    held = store.memory_bytes()
    assert isinstance(held, int)
    if request.node.callspec.params["store"] == "duckdb":
        assert held > 0
    else:
        assert held == 0
