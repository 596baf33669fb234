"""Readings stored after their window was sealed (an edge gateway's backlog): which windows must be
sealed again, and when.

The writer only notes keys (one array append per batch); the ledger thread folds them into
(window start -> sensors). Sealing a window again reads the whole window back from the store, so a
backlog that fills one window over many ledger cycles would have it read back every cycle: the cost
grows with the square of the window's size. A window that keeps receiving late readings cycle after
cycle waits instead, and is sealed once when a cycle passes without any (or after `max_wait_us`,
so that a window touched without end is still sealed). A single late reading (a window touched in
one cycle only) is sealed again in that cycle, as before.
"""

from __future__ import annotations

import threading

import numpy as np

LATE_COMPACT = 1 << 20  # late-reading keys kept before the writer folds them (8 MiB)


class LateWindows:
    def __init__(self, window_us: int, max_wait_us: int) -> None:
        self.window_us, self.max_wait_us = window_us, max_wait_us
        self._keys: list[np.ndarray] = []  # (sensor << 32 | window number), appended on the writer
        self._rows = 0
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[set[int], int]] = {}  # window start -> (sensors, first noted, µs)
        self._touched: set[int] = set()  # window starts that got late readings in the previous cycle

    def note(self, sensor: np.ndarray, ts: np.ndarray) -> None:
        """On the writer: remember late readings without building anything per reading."""
        keys = (sensor.astype(np.int64) << 32) | (ts // self.window_us)
        with self._lock:
            self._keys.append(keys)
            self._rows += len(keys)
            if self._rows > LATE_COMPACT:  # a long backlog between two ledger cycles: bounded memory
                self._keys = [np.unique(np.concatenate(self._keys))]
                self._rows = len(self._keys[0])

    def pairs(self) -> set[tuple[int, int]]:
        """(sensor, window start) of every late reading noted since the last call."""
        with self._lock:
            keys, self._keys, self._rows = self._keys, [], 0
        if not keys:
            return set()
        folded = np.unique(np.concatenate(keys))
        return set(zip((folded >> 32).tolist(), ((folded & 0xFFFFFFFF) * self.window_us).tolist(), strict=True))

    def due(self, now_us: int, flush: bool = False) -> list[tuple[int, set[int]]]:
        """On the ledger thread, once per cycle: the windows to seal again now, with their sensors."""
        touched: dict[int, set[int]] = {}
        for sensor, start in self.pairs():
            touched.setdefault(start, set()).add(sensor)
        for start, sensors in touched.items():
            held, since = self._pending.get(start, (set(), now_us))
            self._pending[start] = (held | sensors, since)
        ready = sorted(start for start, (_, since) in self._pending.items()
                       if flush or start not in touched or start not in self._touched
                       or now_us - since >= self.max_wait_us)
        self._touched = set(touched)
        return [(start, self._pending.pop(start)[0]) for start in ready]

    def waiting(self) -> int:
        """Windows held back because they are still being filled."""
        return len(self._pending)
