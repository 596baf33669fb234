"""The telemetry store contract: every backend passes the same suite (tests/contract)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hazwatch.domain.batch import ReadingBatch


@dataclass(frozen=True)
class SeriesFrame:
    """Columns of one sensor's series. Raw: ts, value, quality. Downsampled: ts (bucket start),
    min, avg, max, last, count."""

    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["ts"])


class TelemetryStore(Protocol):
    def append(self, batch: ReadingBatch) -> None:
        """Store the batch in one transaction; durable when this returns."""

    def series(self, sensor: int, start: int, end: int, step: int | None, limit: int = 100_000) -> SeriesFrame:
        """Readings with start <= ts < end (µs); with step (µs), aggregated per bucket of that width.
        Aggregates leave out bad-quality readings."""

    def last_ts(self) -> tuple[np.ndarray, np.ndarray]:
        """(sensor ids, newest stored ts of each): the starting point of duplicate detection."""

    def existing(self, sensor: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Bool per (sensor, ts) pair: already stored."""

    def first_after(self, sensor: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Per (sensor, ts) pair, the oldest stored ts of that sensor newer than ts (the int64
        maximum where there is none): the top of the gap a gateway's backlog is filling."""

    def readings_after(self, sensor: np.ndarray, after_ts: np.ndarray) -> ReadingBatch:
        """Stored readings of the given sensors newer than each one's ts, ordered by (sensor, ts):
        what a restart re-evaluates."""

    def window(self, start: int, end: int) -> ReadingBatch:
        """Every stored reading with start <= ts < end, ordered by (sensor, ts): what the ledger
        seals, one time window at a time."""

    def count(self) -> int: ...

    def memory_bytes(self) -> int:
        """Memory the store's engine holds in this process (DuckDB's buffer manager; 0 for a
        server database), so a soak can tell the engine's cache from the application's heap."""
        ...

    def close(self) -> None: ...

