"""The tile layout of c2sp.org/tlog-tiles, and a tree kept in tiles against the reference tree."""

import pytest

from hazwatch.ledger.merkle import consistency_proof, inclusion_proof, leaf_hash, memory_nodes, root_from_leaves
from hazwatch.ledger.tiles import (
    MemoryTiles,
    TileError,
    TileTree,
    decode_bundle,
    decode_index,
    encode_bundle,
    encode_index,
    tile_path,
)


def test_index_encoding_of_the_spec():
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000" and encode_index(999) == "999" and encode_index(1000) == "x001/000"
    assert decode_index("x001/x234/067") == 1234067
    for bad in ("1234067", "x001/234/067", "x001/x234/x067", "01"):
        with pytest.raises(TileError):
            decode_index(bad)
    assert tile_path(0, 3, 112) == "tile/0/003.p/112" and tile_path("entries", 1000) == "tile/entries/x001/000"


def test_a_tree_of_70000_has_the_tiles_the_spec_lists(tmp_path):
    """273 full level-0 tiles and a partial of 112, one full level-1 tile and a partial of 17,
    and a partial level-2 tile of width 1 (the spec's own example)."""
    t = TileTree(tmp_path)
    entries = [b"%d" % i for i in range(70_000)]
    t.append(entries, [leaf_hash(e) for e in entries])
    files = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / "tile").rglob("*") if p.is_file()}
    level0 = {f for f in files if f.startswith("tile/0/")}
    assert len([f for f in level0 if ".p/" not in f]) == 273 and "tile/0/273.p/112" in level0
    assert {f for f in files if f.startswith("tile/1/")} == {"tile/1/000", "tile/1/001.p/17"}
    assert {f for f in files if f.startswith("tile/2/")} == {"tile/2/000.p/1"}
    assert len([f for f in files if f.startswith("tile/entries/")]) == 274
    assert (tmp_path / "tile/0/000").stat().st_size == 8192


def test_growing_in_uneven_steps_matches_the_reference_tree(tmp_path):
    t = TileTree(tmp_path)
    entries: list[bytes] = []
    for step in (1, 255, 1, 299, 65_000, 3, 1_000):
        new = [b"e%d" % (len(entries) + i) for i in range(step)]
        t.append(new, [leaf_hash(e) for e in new])
        entries += new
        reopened = TileTree(tmp_path, t.size)  # what a reader (or a restart) sees
        assert reopened.root_hash() == t.root_hash() == root_from_leaves([leaf_hash(e) for e in entries])
    leaves = [leaf_hash(e) for e in entries]
    ref = memory_nodes(leaves)
    for i in (0, 255, 256, 65_535, 65_536, len(entries) - 1):
        assert inclusion_proof(t.node, i, t.size) == inclusion_proof(ref, i, t.size)
    assert consistency_proof(t.node, 300, t.size) == consistency_proof(ref, 300, t.size)
    assert [e for _, e in t.entries(65_530, 65_540)] == entries[65_530:65_540]
    assert MemoryTiles(leaves).root_hash() == t.root_hash()


def test_entry_bundles_are_uint16_length_prefixed():
    b = encode_bundle([b"a", b"", b"xyz"])
    assert b == b"\x00\x01a\x00\x00\x00\x03xyz"
    assert decode_bundle(b) == [b"a", b"", b"xyz"]
    with pytest.raises(TileError, match="truncated"):
        decode_bundle(b[:-1])
    with pytest.raises(TileError, match="over the 65535 bytes"):
        encode_bundle([b"x" * 65_536])


def test_missing_partial_tile_is_reported(tmp_path):
    t = TileTree(tmp_path)
    t.append([b"a", b"b"], [leaf_hash(b"a"), leaf_hash(b"b")])
    (tmp_path / "tile/0/000.p/2").unlink()
    with pytest.raises(TileError, match="tile/0/000.p/2 is missing"):
        TileTree(tmp_path, 2)
