"""Modbus register maps: every type in every byte and word order decodes what was encoded, known
register patterns decode to the values devices mean by them, and reads are planned in blocks of
at most 125 registers."""

from __future__ import annotations

import itertools

import pytest

from hazwatch.ingest.modbus import MAX_BLOCK, Point, blocks, decode, encode


@pytest.mark.parametrize("typ,value", [("int16", -1234), ("uint16", 54321), ("int32", -123456789),
                                       ("uint32", 3_000_000_000), ("float32", 123.456)])
@pytest.mark.parametrize("byte_order,word_order", list(itertools.product(("big", "little"), repeat=2)))
def test_round_trip(typ, value, byte_order, word_order):
    p = Point(tag="X", address=0, type=typ, byte_order=byte_order, word_order=word_order)
    assert decode(encode(value, p), p) == pytest.approx(value, rel=1e-6)


def test_known_patterns():
    f = Point(tag="X", address=0, type="float32")
    assert decode([0x42F6, 0xE979], f) == pytest.approx(123.456, rel=1e-6)  # ABCD, the Modbus convention
    assert decode([0xE979, 0x42F6], f.model_copy(update={"word_order": "little"})) == pytest.approx(123.456, rel=1e-6)
    assert decode([0xF642, 0x79E9], f.model_copy(update={"byte_order": "little"})) == pytest.approx(123.456, rel=1e-6)
    assert decode([0xFFFF], Point(tag="X", address=0, type="int16")) == -1
    assert decode([0xFFFF], Point(tag="X", address=0, type="uint16")) == 65535
    # a 4-20 mA transmitter scaled 0..4000 counts onto 0..16 m
    assert decode([2000], Point(tag="X", address=0, type="uint16", scale=16 / 4000)) == 8.0
    assert decode([100], Point(tag="X", address=0, type="int16", scale=0.1, offset=-40)) == -30.0


def test_reads_are_planned_in_blocks():
    pts = [Point(tag=f"H{i}", address=2 * i, type="float32") for i in range(100)] + \
          [Point(tag="I0", table="input", address=7, type="uint16")]
    plan = blocks(pts)
    assert all(count <= MAX_BLOCK for _, _, count, _ in plan)
    covered = [p.tag for _, _, _, ps in plan for p in ps]
    assert sorted(covered) == sorted(p.tag for p in pts)
    assert [(t, s, c) for t, s, c, _ in plan] == [("holding", 0, 124), ("holding", 124, 76), ("input", 7, 1)]
    far = blocks([Point(tag="A", address=0), Point(tag="B", address=40)])  # a wide gap is not bridged
    assert [(s, c) for _, s, c, _ in far] == [(0, 1), (40, 1)]
