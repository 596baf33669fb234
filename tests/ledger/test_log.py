"""The log service on its own: sequencing, integration, signing, witness quorum, tile recovery,
and the telemetry sealing windows (with a clock the test moves)."""

import time

import numpy as np
import orjson
import pytest
from sqlalchemy import text

from hazwatch.domain.batch import ReadingBatch
from hazwatch.ledger.anchor import FileAnchor, checkpoint_digest
from hazwatch.ledger.log import Fork, Ledger, SealPolicy
from hazwatch.ledger.merkle import leaf_hash
from hazwatch.ledger.note import Signer, open_checkpoint
from hazwatch.ledger.proof import verify_proof
from hazwatch.ledger.tiles import TileError


class Clock:
    def __init__(self, us: int) -> None:
        self.us = us

    def now_us(self) -> int:
        return self.us


@pytest.fixture
def engine(relational_engine):
    """The embedded database and PostgreSQL: appending takes a different path on each."""
    return relational_engine


LOG = Signer.generate("test.example/log")


def opened(engine) -> list[dict]:
    """The log's entries as the installation holds them (the public tiles hold commitments)."""
    with engine.connect() as conn:
        return [orjson.loads(bytes(b)) for b in conn.execute(text("SELECT body FROM ledger_entries ORDER BY id"))
                .scalars()]


def entries(n: int, start: int = 0) -> list[bytes]:
    return [b'{"kind":"test","n":%d,"subject":"t","v":1}' % i for i in range(start, start + n)]


def test_append_integrate_and_publish_with_both_witnesses(engine, tmp_path, witnesses):
    park, pk, _ = witnesses(LOG.verifier, "park")
    reg, rk, _ = witnesses(LOG.verifier, "regulator")
    ledger = Ledger(engine, tmp_path / "log", LOG, Clock(0), [park, reg],
                    anchors=[FileAnchor(tmp_path / "anchor.jsonl")])
    with engine.begin() as conn:
        ledger.append(conn, entries(1000))
    assert ledger.integrate() == 1000 and ledger.size == 1000
    assert ledger.cosign()
    cp, _, good = open_checkpoint((tmp_path / "log" / "checkpoint").read_text(), LOG.verifier,
                                  [pk.verifier, rk.verifier], 2)
    assert cp.size == 1000 and set(good) == {LOG.name, pk.name, rk.name}
    v = verify_proof(ledger.prove(777), LOG.verifier, [pk.verifier, rk.verifier], 2)
    assert v.entry["n"] == 777
    anchored = orjson.loads((tmp_path / "anchor.jsonl").read_text().splitlines()[0])
    assert anchored["size"] == 1000 and anchored["sha256"] == checkpoint_digest(anchored["checkpoint"])
    # nothing new: no new checkpoint, nothing to cosign
    assert ledger.integrate() == 0 and not ledger.cosign()
    with engine.begin() as conn:
        ledger.append(conn, entries(5, 1000))
    ledger.integrate()
    assert ledger.cosign() and ledger.published()[0] == 1005
    assert ledger.witness_sizes() == {pk.name: 1005, rk.name: 1005}


def test_without_its_quorum_a_checkpoint_is_not_published(engine, tmp_path, witnesses):
    park, _pk, _ = witnesses(LOG.verifier, "park")
    from hazwatch.ledger.witness import WitnessClient
    gone = WitnessClient("http://127.0.0.1:9", Signer.generate("gone.example/w", 0x04).verifier, timeout_s=0.5)
    ledger = Ledger(engine, tmp_path / "log", LOG, Clock(0), [park, gone])
    with engine.begin() as conn:
        ledger.append(conn, entries(10))
    ledger.integrate()
    assert not ledger.cosign() and ledger.published() is None
    assert not (tmp_path / "log" / "checkpoint").exists()
    with pytest.raises(LookupError, match="not covered by a published"):
        ledger.prove(3)
    # a quorum of one is met by the park alone
    ledger.quorum = 1
    assert ledger.cosign() and ledger.published()[0] == 10


def test_the_log_never_signs_a_second_root_for_a_size(engine, tmp_path):
    ledger = Ledger(engine, tmp_path / "log", LOG, Clock(0))
    with engine.begin() as conn:
        ledger.append(conn, entries(4))
    ledger.integrate()
    with engine.begin() as conn, pytest.raises(Fork, match="at size 4"):
        ledger._sign(conn, 4, b"\x01" * 32)


def test_lost_tiles_are_rebuilt_from_the_entries_but_changed_entries_are_not_accepted(engine, tmp_path):
    ledger = Ledger(engine, tmp_path / "log", LOG, Clock(0), batch_entries=300)
    with engine.begin() as conn:
        ledger.append(conn, entries(1000))
    ledger.integrate()
    root = ledger.tiles.root_hash()
    import shutil
    shutil.rmtree(tmp_path / "log" / "tile")
    again = Ledger(engine, tmp_path / "log", LOG, Clock(0))
    assert again.size == 1000 and again.tiles.root_hash() == root
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET body = :b WHERE id = 10"), {"b": b'{"rewritten":1}'})
    shutil.rmtree(tmp_path / "log" / "tile")
    with pytest.raises(TileError, match="entries were changed or removed"):
        Ledger(engine, tmp_path / "log", LOG, Clock(0))


def test_telemetry_windows_are_sealed_once_closed_and_again_for_late_readings(engine, tmp_path):
    W = 60_000_000
    t0 = 1_800_000_000 * 1_000_000 // W * W
    stored: list[tuple[int, int, float]] = []

    def window(start: int, end: int) -> ReadingBatch:
        rows = sorted((s, t, v) for s, t, v in stored if start <= t < end)
        return ReadingBatch.of([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    clock = Clock(t0 + 5_000_000)
    ledger = Ledger(engine, tmp_path / "log", LOG, clock, window=window, seal=SealPolicy(60, 10))
    ledger.integrate()  # the ledger starts in window t0
    stored += [(1, t0 + 1_000_000, 1.5), (1, t0 + 2_000_000, 2.5), (2, t0 + 3_000_000, 9.0)]
    clock.us = t0 + W + 5_000_000  # window closed, grace not over
    assert ledger.integrate() == 0
    clock.us = t0 + W + 11_000_000
    assert ledger.integrate() == 2  # one entry per sensor with readings in the window
    tel = opened(engine)
    assert [(e["subject"], e["count"], e["window"]) for e in tel] == [
        ("sensor/1", 2, [t0, t0 + W]), ("sensor/2", 1, [t0, t0 + W])]
    # a late reading for the sealed window: the window is sealed again, chained to its first seal
    late = (1, t0 + 4_000_000, 3.5)
    stored.append(late)
    ledger.readings_stored(ReadingBatch.of([1], [late[1]], [late[2]]))
    assert ledger.integrate() == 1
    last = opened(engine)[2]
    with engine.connect() as conn:
        first = bytes(conn.execute(text("SELECT body FROM ledger_entries ORDER BY id")).scalars().first())
    # chained to the entry itself (the public leaf is its commitment)
    assert last["count"] == 3 and last["prev"] == leaf_hash(first).hex()
    # a late reading already in the seal (it raced the first seal) seals nothing new
    ledger.readings_stored(ReadingBatch.of([2], [t0 + 3_000_000], [9.0]))
    assert ledger.integrate() == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_seals")).scalar() == 2


def test_a_backlog_of_late_readings_marks_each_sensor_and_window_once(engine, tmp_path, monkeypatch):
    """The writer only notes keys; the ledger thread folds them to (sensor, window start) pairs,
    and a backlog longer than the fold limit stays bounded on the writer without losing a pair."""
    import hazwatch.ledger.late as late_module

    W = 60_000_000
    t0 = 1_800_000_000 * 1_000_000 // W * W
    ledger = Ledger(engine, tmp_path / "log", LOG, Clock(t0), window=lambda a, b: ReadingBatch.of([], [], []),
                    seal=SealPolicy(60, 10))
    ledger._until_cache = t0 + 3 * W  # three windows sealed
    monkeypatch.setattr(late_module, "LATE_COMPACT", 50)
    sensors = np.tile(np.array([3, 70_000, 5], np.int32), 40)
    ts = t0 + np.arange(120, dtype=np.int64) * (3 * W // 120) + 7  # all three windows, many readings each
    ledger.readings_stored(ReadingBatch.of(sensors, ts, np.ones(120)))
    ledger.readings_stored(ReadingBatch.of([5], [t0 + 3 * W + 1], [1.0]))  # not sealed yet: not late
    assert ledger.late._rows <= 120 and len(ledger.late._keys) == 1  # folded on the writer past the limit
    expected = {(int(s), int(t) // W * W) for s, t in zip(sensors, ts, strict=True)}
    assert len(expected) == 9 and ledger.late.pairs() == expected
    assert ledger.late.pairs() == set()  # taken once


def test_a_window_filled_by_a_backlog_is_read_back_once_it_goes_quiet(engine, tmp_path):
    """A backlog that fills a sealed window over many ledger cycles has it sealed again at its first
    late reading and then once when a cycle passes without any, not read back every cycle; a
    window touched without end is sealed again after `late_max_wait_s`; stopping seals what waits."""
    W = 60_000_000
    t0 = 1_800_000_000 * 1_000_000 // W * W
    stored: list[tuple[int, int, float]] = []
    reads: list[int] = []

    def window(start: int, end: int) -> ReadingBatch:
        reads.append(start)
        rows = sorted((s, t, v) for s, t, v in stored if start <= t < end)
        return ReadingBatch.of([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])

    clock = Clock(t0 + 1)
    ledger = Ledger(engine, tmp_path / "log", LOG, clock, window=window, seal=SealPolicy(60, 0, late_max_wait_s=100))
    ledger.integrate()
    stored.append((1, t0 + 1, 1.0))
    clock.us = t0 + W  # window t0 closes (no grace)
    assert ledger.integrate() == 1 and reads == [t0]

    def late(k: int) -> None:  # the backlog's k-th reading for window t0
        stored.append((1, t0 + 10 + k, float(k)))
        ledger.readings_stored(ReadingBatch.of([1], [t0 + 10 + k], [float(k)]))

    late(1)
    assert ledger.integrate() == 1 and reads == [t0, t0]  # first touch: sealed again at once
    for k in range(2, 6):  # still filling, cycle after cycle: not read back
        late(k)
        clock.us += 1_000_000
        assert ledger.integrate() == 0
    assert reads == [t0, t0] and ledger.late.waiting() == 1
    clock.us += 1_000_000
    assert ledger.integrate() == 1 and reads == [t0, t0, t0]  # a quiet cycle: sealed with all of them
    assert opened(engine)[-1]["count"] == 6
    for k in range(6, 11):  # touched without end: sealed again at once, then once it has waited 100 s
        late(k)
        clock.us += 40_000_000
        ledger.integrate()
    assert reads.count(t0) == 5 and opened(engine)[-1]["count"] == 11
    late(11)
    ledger.start()
    ledger.stop()  # the final integration seals what still waits
    assert opened(engine)[-1]["count"] == 12 and ledger.late.waiting() == 0


def test_a_stopped_log_catches_up_window_by_window(engine, tmp_path):
    W = 60_000_000
    t0 = 1_800_000_000 * 1_000_000 // W * W
    calls = []

    def window(start: int, end: int) -> ReadingBatch:
        calls.append(start)
        return ReadingBatch.of(np.array([7]), np.array([start + 1]), np.array([1.0]))

    clock = Clock(t0)
    ledger = Ledger(engine, tmp_path / "log", LOG, clock, window=window, seal=SealPolicy(60, 0))
    ledger.integrate()
    clock.us = t0 + 90 * W  # an hour and a half later
    assert ledger.integrate() == 60  # an hour of windows per cycle
    assert ledger.integrate() == 30
    assert calls == [t0 + k * W for k in range(90)]
    with engine.connect() as conn:  # where sealing resumes after a restart
        assert conn.execute(text("SELECT sealed_until FROM ledger_state")).scalar() == t0 + 90 * W


def test_the_thread_integrates_at_once_when_enough_entries_wait(engine, tmp_path):
    ledger = Ledger(engine, tmp_path / "log", LOG, Clock(0), interval_s=3600, wake_entries=100)
    ledger.start()
    try:
        with engine.begin() as conn:
            ledger.append(conn, entries(50))
        time.sleep(0.3)
        assert ledger.size == 0  # under the threshold: waits for the interval
        with engine.begin() as conn:
            ledger.append(conn, entries(60, 50))
        deadline = time.monotonic() + 5
        while ledger.size < 110 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ledger.size == 110
    finally:
        ledger.stop()
