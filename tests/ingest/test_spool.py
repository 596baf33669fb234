"""The spool: records come back in order, exactly as written, across restarts and torn writes,
and its size bound holds by the chosen policy."""

from __future__ import annotations

import pytest

from hazwatch.ingest.spool import Spool, SpoolFull


def drain(spool: Spool) -> list[bytes]:
    out = []
    while True:
        got, off = spool.read(max_records=7)
        if not got:
            return out
        out += got
        spool.commit(off)


def test_records_round_trip_in_order_across_segments(tmp_path):
    s = Spool(tmp_path, segment_bytes=200)
    records = [f"record {i}".encode() * (i % 5 + 1) for i in range(100)]
    for i in range(0, 100, 10):
        s.append(records[i:i + 10])
    assert len(list(tmp_path.glob("seg-*.log"))) > 3
    assert drain(s) == records
    assert s.pending_bytes() == 0
    assert len(list(tmp_path.glob("seg-*.log"))) <= 2  # spent segments are deleted


def test_a_reader_keeping_pace_with_the_writer_misses_nothing_as_segments_roll(tmp_path):
    writer = Spool(tmp_path, segment_bytes=120)
    reader = Spool(tmp_path, writer=False)
    records = [f"r{i:03d}".encode() * (i % 4 + 1) for i in range(300)]
    seen: list[bytes] = []
    for i in range(0, 300, 3):  # the reader drains between small appends, often at a segment's end
        writer.append(records[i:i + 3])
        while True:
            got, off = reader.read(max_records=2)
            if not got:
                break
            seen += got
            reader.commit(off)
    assert seen == records


def test_a_record_larger_than_the_read_budget_still_comes_out(tmp_path):
    s = Spool(tmp_path)
    big = bytes(range(256)) * 400
    s.append([b"small", big, b"after"])
    out = []
    for _ in range(10):
        got, off = s.read(max_bytes=1000)
        out += got
        s.commit(off)
    assert out == [b"small", big, b"after"]


def test_uncommitted_records_come_back_after_a_restart(tmp_path):
    s = Spool(tmp_path)
    s.append([b"a", b"b", b"c"])
    got, off = s.read(max_records=1)
    s.commit(off)
    s.read()  # read but never committed: the process dies here
    s.close()
    again = Spool(tmp_path)
    assert drain(again) == [b"b", b"c"]


def test_a_torn_tail_is_cut_and_appends_continue(tmp_path):
    s = Spool(tmp_path)
    s.append([b"whole"])
    s.close()
    seg = next(tmp_path.glob("seg-*.log"))
    with open(seg, "ab") as f:
        f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00half")  # a crash in the middle of a write
    s = Spool(tmp_path)
    s.append([b"next"])
    assert drain(s) == [b"whole", b"next"]


def test_a_reader_in_another_process_sees_only_complete_records(tmp_path):
    w = Spool(tmp_path)
    r = Spool(tmp_path, writer=False)
    w.append([b"one"])
    seg = next(tmp_path.glob("seg-*.log"))
    with open(seg, "ab") as f:
        f.write(b"\x05\x00\x00\x00")  # the writer is half way through the next header
    assert r.read()[0] == [b"one"]
    assert r.read()[0] == []


def test_refuse_policy_raises_when_full(tmp_path):
    s = Spool(tmp_path, max_bytes=100)
    s.append([b"x" * 40])
    with pytest.raises(SpoolFull, match="limit is 100"):
        s.append([b"y" * 80])
    got, off = s.read()
    s.commit(off)
    s.append([b"y" * 80])  # room again once the reader has caught up


def test_drop_oldest_policy_keeps_the_newest(tmp_path):
    s = Spool(tmp_path, max_bytes=300, policy="drop_oldest", segment_bytes=100)
    for i in range(20):
        s.append([bytes([65 + i]) * 50])
    kept = drain(s)
    assert kept[-1] == b"T" * 50 and len(kept) < 20
    assert s.dropped_bytes > 0
    assert [k[0] for k in kept] == sorted(k[0] for k in kept)
