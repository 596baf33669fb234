"""PostgreSQL store: binary COPY built straight from the numpy columns (no per-row Python),
a table partitioned by day, one transaction per batch."""

from __future__ import annotations

import threading

import numpy as np
import psycopg

from hazwatch.domain.batch import QUALITY_DTYPE, TS_DTYPE, VALUE_DTYPE, Quality, ReadingBatch
from hazwatch.store.base import SeriesFrame

PG_EPOCH_US = 946_684_800 * 1_000_000  # PostgreSQL timestamps count from 2000-01-01
DAY_US = 86_400 * 1_000_000
_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_TRAILER = b"\xff\xff"
_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("sensor", ">i4"), ("l2", ">i4"), ("ts", ">i8"),
                 ("l3", ">i4"), ("value", ">f8"), ("l4", ">i4"), ("quality", ">i2")])
_US = "(extract(epoch from ts) * 1000000)::bigint"
_TS = "(timestamptz 'epoch' + %s::bigint * interval '1 microsecond')"

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    sensor integer NOT NULL,
    ts timestamptz NOT NULL,
    value double precision NOT NULL,
    quality smallint NOT NULL
) PARTITION BY RANGE (ts);
CREATE UNIQUE INDEX IF NOT EXISTS readings_sensor_ts_key ON readings (sensor, ts);
DROP INDEX IF EXISTS readings_sensor_ts;
"""
_COPY = "COPY {} (sensor, ts, value, quality) FROM STDIN (FORMAT BINARY)"


def copy_payload(batch: ReadingBatch) -> bytes:
    rows = np.empty(len(batch), _ROW)
    rows["n"] = 4
    rows["l1"], rows["l2"], rows["l3"], rows["l4"] = 4, 8, 8, 2
    rows["sensor"] = batch.sensor
    rows["ts"] = batch.ts - PG_EPOCH_US
    rows["value"] = batch.value
    rows["quality"] = batch.quality
    return _HEADER + rows.tobytes() + _TRAILER


# A database that does not answer is reported (503) after this long rather than holding the request.
CONNECT_TIMEOUT_S = 5


class PostgresStore:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._writer = psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S)
        with self._writer.transaction():
            # nodes of a cluster starting together make the schema one at a time (the same lock as
            # hazwatch.db.base.startup_lock)
            self._writer.execute("SELECT pg_advisory_xact_lock(7401)")
            self._writer.execute(SCHEMA)
        self._days: set[int] = set()
        self._lock = threading.Lock()
        self._local = threading.local()

    def _reader(self) -> psycopg.Connection:
        con = getattr(self._local, "con", None)
        if con is None or con.closed or con.broken:
            con = self._local.con = psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        return con

    def _live_writer(self) -> psycopg.Connection:
        """The writer connection, opened again after the database or the network to it was lost (the
        failed batch was refused whole: its transaction never committed)."""
        if self._writer.closed or self._writer.broken:
            self._writer.close()
            self._writer = psycopg.connect(self.dsn, connect_timeout=CONNECT_TIMEOUT_S)
        return self._writer

    def _ensure_partitions(self, ts: np.ndarray) -> list[int]:
        """Create the day partitions the batch needs; the days created are returned so that a
        transaction that rolls back can forget them."""
        made = []
        for day in np.unique(ts // DAY_US).tolist():
            if day in self._days:
                continue
            name = f"readings_d{day}"
            lo, hi = day * DAY_US, (day + 1) * DAY_US
            self._writer.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF readings FOR VALUES "
                f"FROM ({_TS % lo}) TO ({_TS % hi})")
            self._days.add(day)
            made.append(day)
        return made

    def append(self, batch: ReadingBatch) -> None:
        """One COPY; a reading already stored (a batch replayed after a worker crash) turns it into
        an insert that keeps the stored row, so every (sensor, ts) is stored once."""
        if not len(batch):
            return
        payload = copy_payload(batch)
        with self._lock:
            try:
                self._copy(batch, payload, into="readings")
            except psycopg.errors.UniqueViolation:
                self._copy(batch, payload, into="readings_in")

    def _copy(self, batch: ReadingBatch, payload: bytes, into: str) -> None:
        made: list[int] = []
        self._live_writer()
        try:
            with self._writer.transaction():
                made = self._ensure_partitions(batch.ts)
                if into != "readings":
                    self._writer.execute(f"CREATE TEMP TABLE IF NOT EXISTS {into} "
                                         "(LIKE readings) ON COMMIT DELETE ROWS")
                with self._writer.cursor().copy(_COPY.format(into)) as copy:
                    copy.write(payload)
                if into != "readings":
                    self._writer.execute(f"INSERT INTO readings SELECT * FROM {into} ON CONFLICT DO NOTHING")
        except BaseException:
            self._days.difference_update(made)
            raise

    def series(self, sensor: int, start: int, end: int, step: int | None, limit: int = 100_000) -> SeriesFrame:
        con = self._reader()
        if step is None:
            rows = con.execute(
                f"SELECT {_US}, value, quality FROM readings WHERE sensor = %s AND ts >= {_TS} AND ts < {_TS} "
                "ORDER BY ts LIMIT %s", [sensor, start, end, limit]).fetchall()
            cols = list(zip(*rows, strict=True)) if rows else [(), (), ()]
            return SeriesFrame({"ts": np.asarray(cols[0], TS_DTYPE), "value": np.asarray(cols[1], VALUE_DTYPE),
                                "quality": np.asarray(cols[2], QUALITY_DTYPE)})
        rows = con.execute(
            f"SELECT ({_US} - %s) / %s * %s + %s AS b, min(value), avg(value), max(value), "
            "(array_agg(value ORDER BY ts DESC))[1], count(*) "
            f"FROM readings WHERE sensor = %s AND ts >= {_TS} AND ts < {_TS} AND quality < %s "
            "GROUP BY b ORDER BY b LIMIT %s",
            [start, step, step, start, sensor, start, end, int(Quality.BAD), limit]).fetchall()
        cols = list(zip(*rows, strict=True)) if rows else [()] * 6
        return SeriesFrame({
            "ts": np.asarray(cols[0], TS_DTYPE), "min": np.asarray(cols[1], VALUE_DTYPE),
            "avg": np.asarray(cols[2], VALUE_DTYPE), "max": np.asarray(cols[3], VALUE_DTYPE),
            "last": np.asarray(cols[4], VALUE_DTYPE), "count": np.asarray(cols[5], np.int64)})

    def last_ts(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._reader().execute(f"SELECT sensor, max({_US}) FROM readings GROUP BY sensor").fetchall()
        if not rows:
            return np.zeros(0, np.int32), np.zeros(0, TS_DTYPE)
        s, t = zip(*rows, strict=True)
        return np.asarray(s, np.int32), np.asarray(t, TS_DTYPE)

    def existing(self, sensor: np.ndarray, ts: np.ndarray) -> np.ndarray:
        out = np.zeros(len(sensor), bool)
        if not len(sensor):
            return out
        rows = self._reader().execute(
            "SELECT p.i FROM unnest(%s::int[], %s::bigint[]) WITH ORDINALITY AS p(sensor, us, i) "
            "JOIN readings r ON r.sensor = p.sensor "
            "AND r.ts = timestamptz 'epoch' + p.us * interval '1 microsecond'",
            [sensor.tolist(), ts.tolist()]).fetchall()
        if rows:
            out[np.asarray([r[0] for r in rows], np.int64) - 1] = True
        return out

    def first_after(self, sensor: np.ndarray, ts: np.ndarray) -> np.ndarray:
        out = np.full(len(sensor), np.iinfo(np.int64).max, np.int64)
        if not len(sensor):
            return out
        rows = self._reader().execute(
            f"SELECT p.i, (SELECT {_US.replace('ts', 'r.ts')} FROM readings r WHERE r.sensor = p.sensor "
            "AND r.ts > timestamptz 'epoch' + p.us * interval '1 microsecond' ORDER BY r.ts LIMIT 1) "
            "FROM unnest(%s::int[], %s::bigint[]) WITH ORDINALITY AS p(sensor, us, i)",
            [sensor.tolist(), ts.tolist()]).fetchall()
        for i, t in rows:
            if t is not None:
                out[i - 1] = t
        return out

    def readings_after(self, sensor: np.ndarray, after_ts: np.ndarray) -> ReadingBatch:
        if not len(sensor):
            return ReadingBatch.empty()
        rows = self._reader().execute(
            f"SELECT r.sensor, {_US.replace('ts', 'r.ts')}, r.value, r.quality "
            "FROM unnest(%s::int[], %s::bigint[]) AS m(sensor, after) "
            "JOIN readings r ON r.sensor = m.sensor "
            "AND r.ts > timestamptz 'epoch' + m.after * interval '1 microsecond' ORDER BY r.sensor, r.ts",
            [sensor.tolist(), after_ts.tolist()]).fetchall()
        if not rows:
            return ReadingBatch.empty()
        s, t, v, q = zip(*rows, strict=True)
        return ReadingBatch.of(s, t, v, q)

    def window(self, start: int, end: int) -> ReadingBatch:
        rows = self._reader().execute(
            f"SELECT sensor, {_US}, value, quality FROM readings "
            "WHERE ts >= timestamptz 'epoch' + %s * interval '1 microsecond' "
            "AND ts < timestamptz 'epoch' + %s * interval '1 microsecond' ORDER BY sensor, ts",
            [int(start), int(end)]).fetchall()
        if not rows:
            return ReadingBatch.empty()
        s, t, v, q = zip(*rows, strict=True)
        return ReadingBatch.of(s, t, v, q)

    def count(self) -> int:
        return self._reader().execute("SELECT count(*) FROM readings").fetchone()[0]

    def memory_bytes(self) -> int:
        return 0  # PostgreSQL's memory is its own processes', not this one's

    def close(self) -> None:
        self._writer.close()
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
