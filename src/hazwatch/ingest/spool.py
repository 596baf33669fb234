"""A durable FIFO of byte records on local disk: what a receiver has acknowledged but the platform
has not yet stored. The MQTT receiver appends messages here (fsync, then PUBACK), the server
drains it into the pipeline, and the edge gateway spools here while its uplink is down.

Layout: a directory of segment files `seg-<offset>.log`, each a run of records
`[u32 length][u32 crc32][bytes]`, and a `committed` file holding the offset up to which records
were consumed for good. Offsets are byte positions in the log as a whole, so they grow forever and
order records. One writer and one reader may use a spool at once, from different threads or
processes; the reader sees only records whose bytes and checksum are complete.

The size bound is a policy the owner chooses: `refuse` (append raises SpoolFull, so the receiver
stops acknowledging and its peer holds the data) or `drop_oldest` (the oldest unconsumed segment
is discarded and counted, for a gateway that must keep the newest data flowing)."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path

_HEAD = struct.Struct("<II")
SEGMENT_BYTES = 64 * 1024 * 1024


class SpoolFull(Exception):
    pass


def _segments(directory: Path) -> list[tuple[int, Path]]:
    out = []
    for p in directory.glob("seg-*.log"):
        try:
            out.append((int(p.stem[4:]), p))
        except ValueError:
            continue
    return sorted(out)


class Spool:
    def __init__(self, directory: Path, max_bytes: int = 1 << 34, policy: str = "refuse",
                 segment_bytes: int = SEGMENT_BYTES, writer: bool = True) -> None:
        if policy not in ("refuse", "drop_oldest"):
            raise ValueError("policy is refuse or drop_oldest")
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes, self.policy, self.segment_bytes = max_bytes, policy, segment_bytes
        self.dropped_bytes = 0
        self._lock = threading.Lock()
        self._file = None
        self.writer = writer
        # Only the writer may cut a torn tail: a reader in another process could see a record the
        # writer is still writing.
        self._end = self._recover_tail() if writer else 0
        # The committed offset only grows, so a stale copy overstates what is pending: the writer
        # reads the file again only when the stale figure would break the bound.
        self._committed_seen = self.committed() if writer else 0
        # reader state
        self._read_seg: Path | None = None
        self._read_start = 0
        self._read_fh = None
        self._read_pos = self.committed()

    # -- writer ------------------------------------------------------------------------------------------
    def _recover_tail(self) -> int:
        """Cut a record left half-written by a crash, so appends continue on a clean boundary."""
        segs = _segments(self.dir)
        if not segs:
            return self.committed()
        start, path = segs[-1]
        data = path.read_bytes()
        pos = 0
        while pos + _HEAD.size <= len(data):
            length, crc = _HEAD.unpack_from(data, pos)
            body = data[pos + _HEAD.size: pos + _HEAD.size + length]
            if len(body) < length or zlib.crc32(body) != crc:
                break
            pos += _HEAD.size + length
        if pos < len(data):
            with open(path, "r+b") as f:
                f.truncate(pos)
                os.fsync(f.fileno())
        return start + pos

    def append(self, records: Iterable[bytes], sync: bool = True) -> int:
        """Append records in order and (by default) fsync; returns the offset after the last one."""
        if not self.writer:
            raise RuntimeError("this spool was opened for reading")
        buf = bytearray()
        for r in records:
            buf += _HEAD.pack(len(r), zlib.crc32(r))
            buf += r
        with self._lock:
            if self._end - self._committed_seen + len(buf) > self.max_bytes:
                self._committed_seen = self.committed()
            if self._end - self._committed_seen + len(buf) > self.max_bytes:
                if self.policy == "refuse":
                    raise SpoolFull(f"spool {self.dir} holds {self.pending_bytes()} bytes; the limit is "
                                    f"{self.max_bytes}")
                self._drop_oldest(len(buf))
            if self._file is None or self._file.tell() >= self.segment_bytes:
                self._roll()
            self._file.write(buf)
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
            self._end += len(buf)
            return self._end

    def _roll(self) -> None:
        if self._file is not None:
            self._file.close()
        segs = _segments(self.dir)
        if segs and segs[-1][1].stat().st_size < self.segment_bytes:
            path = segs[-1][1]
        else:
            path = self.dir / f"seg-{self._end:020d}.log"
        self._file = open(path, "ab")  # noqa: SIM115 - held open across appends

    def _drop_oldest(self, need: int) -> None:
        segs = _segments(self.dir)
        for start, path in segs[:-1]:
            if self.pending_bytes() + need <= self.max_bytes:
                break
            end = start + path.stat().st_size
            self.dropped_bytes += end - max(start, self.committed())
            self._write_committed(end)
            path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        if self._read_fh is not None:
            self._read_fh.close()
            self._read_fh = None

    # -- reader ------------------------------------------------------------------------------------------
    def committed(self) -> int:
        try:
            return int((self.dir / "committed").read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            segs = _segments(self.dir)
            return segs[0][0] if segs else 0

    def _write_committed(self, offset: int) -> None:
        tmp = self.dir / "committed.tmp"
        tmp.write_text(str(offset))
        os.replace(tmp, self.dir / "committed")

    def end(self) -> int:
        segs = _segments(self.dir)
        return segs[-1][0] + segs[-1][1].stat().st_size if segs else self.committed()

    def pending_bytes(self) -> int:
        """Bytes appended but not yet committed."""
        return max(0, (self._end if self.writer else self.end()) - self.committed())

    def read(self, max_records: int = 10_000, max_bytes: int = 16 << 20) -> tuple[list[bytes], int]:
        """Complete records after the read position (not yet committed), and the offset after them.
        The position moves on; a restart resumes from the last commit.

        Records are parsed out of one read of the segment, not read one by one: the server drains
        tens of thousands of records a second and must not spend a syscall (or a directory scan)
        on each."""
        out: list[bytes] = []
        size = 0
        while len(out) < max_records and size < max_bytes:
            if not self._open_for(self._read_pos):
                break
            fh = self._read_fh
            assert fh is not None
            fh.seek(self._read_pos - self._read_start)
            want = max(max_bytes - size, _HEAD.size)
            data = fh.read(want)
            pos = 0
            while len(out) < max_records and pos + _HEAD.size <= len(data):
                length, crc = _HEAD.unpack_from(data, pos)
                end = pos + _HEAD.size + length
                if end > len(data) and pos == 0 and len(data) == want:  # one record beyond the budget
                    data += fh.read(end - len(data))
                if end > len(data):
                    break  # still being written
                body = data[pos + _HEAD.size:end]
                if zlib.crc32(body) != crc:
                    break  # still being written
                out.append(body)
                size += length
                pos = end
            self._read_pos += pos
            if pos < len(data) or len(out) >= max_records:
                break  # a record still being written, or enough for one call
            if len(data) == want:
                continue  # the budget ended the read, not the segment
            if not self._advance():
                break
        return out, self._read_pos

    def _advance(self) -> bool:
        """At the end of the segment being read: move to the next one if the writer has moved on.
        A segment is final once a later one exists (the writer rolls only after its last write),
        but records may have landed between our read and that check, so look once more."""
        start = self._read_start
        nxt = self._next_segment_after(start)
        if nxt is None:
            return False
        assert self._read_fh is not None
        self._read_fh.seek(self._read_pos - start)
        if self._read_fh.read(1):
            return True  # more records in this segment after all: read them first
        self._read_pos = nxt
        self._read_fh.close()
        self._read_seg = self._read_fh = None
        return True

    def _next_segment_after(self, start: int) -> int | None:
        for s, _ in _segments(self.dir):
            if s > start:
                return s
        return None

    def _open_for(self, offset: int) -> bool:
        # the open segment serves until the reader moves past it or the writer's policy dropped it
        if self._read_seg is not None and self._read_start <= offset and self._read_seg.exists():
            return True
        segs = _segments(self.dir)
        chosen = None
        for start, path in segs:
            if start <= offset:
                chosen = path
        if chosen is None:
            if segs and segs[0][0] > offset:  # dropped by policy: skip ahead
                self._read_pos = segs[0][0]
                chosen = segs[0][1]
            else:
                return False
        if chosen != self._read_seg:
            if self._read_fh is not None:
                self._read_fh.close()
            self._read_seg, self._read_fh = chosen, open(chosen, "rb")  # noqa: SIM115
            self._read_start = int(chosen.stem[4:])
        return True

    def commit(self, offset: int) -> None:
        """Everything before `offset` is stored for good: remember it and delete spent segments."""
        self._write_committed(offset)
        segs = _segments(self.dir)
        for (_start, path), (nxt, _) in zip(segs, segs[1:], strict=False):
            if nxt <= offset and path != self._read_seg:
                path.unlink(missing_ok=True)

    def rewind(self) -> None:
        """Read again from the last commit (after a failed hand-over)."""
        self._read_pos = self.committed()
