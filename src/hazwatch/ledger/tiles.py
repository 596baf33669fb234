"""The log's tree and entries as C2SP tlog-tiles (c2sp.org/tlog-tiles), kept as files in exactly
the layout they are served in:

    tile/<L>/<N>[.p/<W>]        256 hashes (8 KiB) per full tile; level 0 holds leaf hashes, level
                                L+1 the roots of full level-L tiles
    tile/entries/<N>[.p/<W>]    the entries of level-0 tile N, each a big-endian uint16 length and
                                the entry bytes

so a regulator can copy the folder (or mirror it over HTTP) and check everything offline. Files
are immutable once written, except that partial tiles are removed when their full tile exists
(the spec allows it). Appending keeps the right edge of the tree (at most 255 hashes per level)
in memory; every other hash is read back from the files.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hazwatch.ledger.merkle import EMPTY_ROOT, range_hash

WIDTH = 256
HEIGHT = 8
MAX_ENTRY = 0xFFFF


_POOL: ThreadPoolExecutor | None = None


def _writers() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(8, thread_name_prefix="hazwatch-tiles")
    return _POOL


class TileError(ValueError):
    """A tile or entry bundle that is missing, truncated or inconsistent."""


def encode_index(n: int) -> str:
    """1234067 -> x001/x234/067: zero-padded 3-digit path elements, all but the last with x."""
    parts = []
    while True:
        parts.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    parts.reverse()
    return "/".join(["x" + p for p in parts[:-1]] + [parts[-1]])


def decode_index(path: str) -> int:
    elems = path.split("/")
    if not elems or any(len(e.lstrip("x")) != 3 or not e.lstrip("x").isdigit() for e in elems):
        raise TileError(f"tile index {path!r} is not in the x001/x234/067 form")
    if any(not e.startswith("x") for e in elems[:-1]) or elems[-1].startswith("x"):
        raise TileError(f"tile index {path!r}: all elements but the last start with x")
    n = 0
    for e in elems:
        n = n * 1000 + int(e.lstrip("x"))
    return n


def tile_path(level: int | str, n: int, width: int = WIDTH) -> str:
    return f"tile/{level}/{encode_index(n)}" + ("" if width == WIDTH else f".p/{width}")


def bundle_path(n: int, width: int = WIDTH) -> str:
    return tile_path("entries", n, width)


def encode_bundle(entries: list[bytes]) -> bytes:
    if entries and max(map(len, entries)) > MAX_ENTRY:
        raise TileError(f"an entry of {max(map(len, entries))} bytes is over the {MAX_ENTRY} bytes a bundle holds")
    return b"".join([len(e).to_bytes(2, "big") + e for e in entries])


def decode_bundle(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        if i + 2 > len(data):
            raise TileError(f"entry bundle is truncated at byte {i}")
        (n,) = struct.unpack_from(">H", data, i)
        if i + 2 + n > len(data):
            raise TileError(f"entry bundle is truncated: entry {len(out)} claims {n} bytes")
        out.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return out


def tile_root(hashes: list[bytes]) -> bytes:
    """MTH of a power-of-two run of hashes (a full tile, or a complete subtree within one)."""
    hs, sha = hashes, hashlib.sha256
    while len(hs) > 1:
        hs = [sha(b"\x01" + hs[i] + hs[i + 1]).digest() for i in range(0, len(hs), 2)]
    return hs[0]


def split_hashes(data: bytes) -> list[bytes]:
    if len(data) % 32:
        raise TileError("a tile is not a whole number of 32-byte hashes")
    return [data[i:i + 32] for i in range(0, len(data), 32)]


class TileTree:
    """A tree of `size` leaves over a tile folder: reads any hash, appends new entries."""

    def __init__(self, root: Path, size: int = 0, cache_tiles: int = 512, bundle: bool = True) -> None:
        self.root = Path(root)
        self.size = 0
        self._edge: list[list[bytes]] = []  # per tile level: the hashes of its partial tile
        self._bundle: list[bytes] = []  # entries of the partial level-0 tile
        self._cache: OrderedDict[tuple[int, int], list[bytes]] = OrderedDict()
        self._cache_tiles = cache_tiles
        self._dirs: set[str] = set()
        self.open(size, bundle)

    # -- reading -----------------------------------------------------------------------------------
    def _read(self, rel: str) -> bytes:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            raise TileError(f"{rel} is missing") from None

    def open(self, size: int, bundle: bool = True) -> None:
        """Position on a tree of `size` leaves: its partial tiles must be on disk (and its partial
        entry bundle, which appending extends; a verifier reads bundles itself)."""
        edge: list[list[bytes]] = []
        level, rest = 0, size
        while rest > 0:
            w = rest % WIDTH
            rest //= WIDTH
            if w:
                hashes = split_hashes(self._read(tile_path(level, rest, w)))
                if len(hashes) != w:
                    raise TileError(f"{tile_path(level, rest, w)} holds {len(hashes)} hashes, not {w}")
                edge.append(hashes)
            else:
                edge.append([])
            level += 1
        entries: list[bytes] = []
        if size % WIDTH and bundle:
            entries = decode_bundle(self._read(bundle_path(size // WIDTH, size % WIDTH)))
            if len(entries) != size % WIDTH:
                raise TileError(f"{bundle_path(size // WIDTH, size % WIDTH)} holds {len(entries)} entries")
        self.size, self._edge, self._bundle = size, edge, entries

    def tile(self, level: int, n: int) -> list[bytes]:
        """The hashes of tile n at a level, as far as the tree reaches."""
        full_tiles = self.size // (WIDTH ** (level + 1))
        if n < full_tiles:
            key = (level, n)
            hashes = self._cache.get(key)
            if hashes is None:
                hashes = split_hashes(self._read(tile_path(level, n)))
                if len(hashes) != WIDTH:
                    raise TileError(f"{tile_path(level, n)} holds {len(hashes)} hashes, not {WIDTH}")
                self._cache[key] = hashes
                if len(self._cache) > self._cache_tiles:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            return hashes
        if n == full_tiles and level < len(self._edge):
            return self._edge[level]
        raise TileError(f"tile {level}/{n} is beyond a tree of size {self.size}")

    def node(self, level: int, index: int) -> bytes:
        """Hash of the complete subtree of 2**level leaves at index (merkle.NodeHashes)."""
        tl, r = divmod(level, HEIGHT)
        first = index << r
        hashes = self.tile(tl, first // WIDTH)
        part = hashes[first % WIDTH:first % WIDTH + (1 << r)]
        if len(part) != 1 << r:
            raise TileError(f"node {level}/{index} is not complete in a tree of size {self.size}")
        return tile_root(part)

    def root_hash(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        return range_hash(self.node, 0, size) if size else EMPTY_ROOT

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """(index, entry) for start <= index < end, read from the bundles."""
        end = self.size if end is None else end
        n = start // WIDTH
        while n * WIDTH < end:
            width = min(WIDTH, self.size - n * WIDTH)
            if width == WIDTH:
                bundle = decode_bundle(self._read(bundle_path(n)))
            elif n == self.size // WIDTH:
                bundle = self._bundle
            else:
                raise TileError(f"entry bundle {n} is beyond the tree")
            if len(bundle) != width:
                raise TileError(f"{bundle_path(n, width)} holds {len(bundle)} entries, not {width}")
            for i, e in enumerate(bundle):
                idx = n * WIDTH + i
                if start <= idx < end:
                    yield idx, e
            n += 1

    # -- appending ---------------------------------------------------------------------------------
    def _write_all(self, writes: list[tuple[str, bytes]]) -> None:
        """Creating a file costs a journal commit of the file system, which can wait behind the
        database's fsyncs for most of a millisecond: a batch's files are written by a few threads
        at once, and all of them before the new size is recorded."""
        if len(writes) < 8:
            for rel, data in writes:
                self._write(rel, data)
            return
        for d in {os.path.dirname(os.path.join(self.root, rel)) for rel, _ in writes} - self._dirs:
            os.makedirs(d, exist_ok=True)
            self._dirs.add(d)
        list(_writers().map(lambda w: self._write(*w), writes))

    def _write(self, rel: str, data: bytes) -> None:
        """Written in place: every path is written once with its final content (a partial tile's
        name carries its width), no checkpoint names it before the write returns, and after a
        crash the same entries rewrite the same bytes."""
        path = os.path.join(self.root, rel)
        parent = os.path.dirname(path)
        if parent not in self._dirs:
            os.makedirs(parent, exist_ok=True)
            self._dirs.add(parent)
        with open(path, "wb") as f:
            f.write(data)

    def append(self, entries: list[bytes], leaves: list[bytes]) -> list[tuple[int, int]]:
        """Add entries (with their leaf hashes) and write every tile they complete, plus the new
        partial tiles. Returns the tiles (level, n) that became full, whose partial versions may
        be removed once the new size is recorded."""
        completed: list[tuple[int, int]] = []
        if not entries:
            return completed
        size = self.size
        writes: list[tuple[str, bytes]] = []
        # entry bundles and level 0
        bundle, edge0 = self._bundle, (self._edge[0] if self._edge else [])
        if not self._edge:
            self._edge.append(edge0)
        up: list[bytes] = []
        pos = 0
        n0 = size // WIDTH
        while pos < len(entries):
            take = min(WIDTH - len(edge0), len(entries) - pos)
            bundle.extend(entries[pos:pos + take])
            edge0.extend(leaves[pos:pos + take])
            pos += take
            if len(edge0) == WIDTH:
                writes.append((bundle_path(n0), encode_bundle(bundle)))
                writes.append((tile_path(0, n0), b"".join(edge0)))
                completed.append((0, n0))
                up.append(tile_root(edge0))
                bundle.clear()
                edge0.clear()
                n0 += 1
        self.size = size + len(entries)
        # higher levels: each takes the roots of the tiles completed below it
        level = 1
        while up:
            if len(self._edge) <= level:
                self._edge.append([])
            edge = self._edge[level]
            count = size // WIDTH ** level  # hashes this level held before the append
            nxt: list[bytes] = []
            for h in up:
                edge.append(h)
                count += 1
                if len(edge) == WIDTH:
                    n = (count - 1) // WIDTH
                    writes.append((tile_path(level, n), b"".join(edge)))
                    completed.append((level, n))
                    nxt.append(tile_root(edge))
                    edge.clear()
            up = nxt
            level += 1
        # partial tiles for the new size
        rest, level = self.size, 0
        while rest > 0:
            w = rest % WIDTH
            rest //= WIDTH
            if w:
                writes.append((tile_path(level, rest, w), b"".join(self._edge[level])))
            level += 1
        if self.size % WIDTH:
            writes.append((bundle_path(self.size // WIDTH, self.size % WIDTH), encode_bundle(bundle)))
        self._write_all(writes)
        return completed


class MemoryTiles:
    """The tiles of a tree recomputed in memory from its leaf hashes: what a verifier compares
    the served tiles and the signed root with."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.size = len(leaves)
        self.levels = [leaves]
        while len(self.levels[-1]) >= WIDTH:
            below = self.levels[-1]
            self.levels.append([tile_root(below[i:i + WIDTH]) for i in range(0, len(below) - WIDTH + 1, WIDTH)])

    def tile(self, level: int, n: int) -> list[bytes]:
        return self.levels[level][n * WIDTH:(n + 1) * WIDTH] if level < len(self.levels) else []

    def node(self, level: int, index: int) -> bytes:
        tl, r = divmod(level, HEIGHT)
        first = index << r
        part = self.levels[tl][first:first + (1 << r)]
        if len(part) != 1 << r:
            raise TileError(f"node {level}/{index} is not complete in a tree of size {self.size}")
        return tile_root(part)

    def root_hash(self) -> bytes:
        return range_hash(self.node, 0, self.size) if self.size else EMPTY_ROOT
