"""The columnar reading batch that travels the hot path.

Readings never become one Python object each: a batch is four parallel numpy
arrays, so every stage can validate, sort, store and evaluate a whole batch
with vectorized operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

SENSOR_DTYPE = np.int32
TS_DTYPE = np.int64  # microseconds since the Unix epoch, UTC
VALUE_DTYPE = np.float64
QUALITY_DTYPE = np.int8

US = 1_000_000  # microseconds per second
NO_TS = np.iinfo(np.int64).min  # "no reading yet" in a per-sensor array of times


class Quality(IntEnum):
    """OPC-UA-like quality; bad readings are stored but never drive a process alarm."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2

    @classmethod
    def parse(cls, name: str) -> Quality:
        return cls[name.upper()]


QUALITY_NAMES = tuple(q.name.lower() for q in Quality)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one reading of a request was refused; `index` is its position in that request."""

    index: int
    sensor: str
    reason: str


@dataclass(slots=True)
class ReadingBatch:
    sensor: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    quality: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.sensor)
        if not (len(self.ts) == len(self.value) == len(self.quality) == n):
            raise ValueError("ReadingBatch columns must have equal length")

    def __len__(self) -> int:
        return len(self.sensor)

    @classmethod
    def empty(cls) -> ReadingBatch:
        return cls(
            np.empty(0, SENSOR_DTYPE),
            np.empty(0, TS_DTYPE),
            np.empty(0, VALUE_DTYPE),
            np.empty(0, QUALITY_DTYPE),
        )

    @classmethod
    def of(cls, sensor, ts, value, quality=None) -> ReadingBatch:
        """Build a batch from array-likes, coercing dtypes (tests, simulator, replay)."""
        sensor = np.asarray(sensor, SENSOR_DTYPE)
        q = np.zeros(len(sensor), QUALITY_DTYPE) if quality is None else np.asarray(quality, QUALITY_DTYPE)
        return cls(sensor, np.asarray(ts, TS_DTYPE), np.asarray(value, VALUE_DTYPE), q)

    def take(self, index: np.ndarray) -> ReadingBatch:
        return ReadingBatch(self.sensor[index], self.ts[index], self.value[index], self.quality[index])

    def newest_per_sensor(self) -> np.ndarray:
        """Row index of each sensor's last reading; the batch must be sorted by (sensor, ts)."""
        last = np.ones(len(self), bool)
        last[:-1] = self.sensor[1:] != self.sensor[:-1]
        return np.flatnonzero(last)

    def sorted(self) -> ReadingBatch:
        """Order by (sensor, ts): clusters rows for the store and groups them for evaluation."""
        order = np.lexsort((self.ts, self.sensor))
        return self.take(order)


@dataclass(frozen=True)
class IngestResult:
    """What became of a raw batch: how many readings were stored, and why the others were not."""

    accepted: int
    rejected: list[Rejection]


@dataclass(slots=True)
class RawBatch:
    """Parsed but unchecked readings: sensor ids (-1 unknown) with the tags as sent."""

    tags: list[str]
    sensor: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    quality: np.ndarray
    # Readings the sender's credential may not write (a device writing another device's sensor),
    # with the reason told back to it; None when every known sensor is the sender's to write.
    denied: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tags)

    @staticmethod
    def concat(raws: list[RawBatch]) -> RawBatch:
        if len(raws) == 1:
            return raws[0]
        tags: list[str] = []
        for r in raws:
            tags.extend(r.tags)
        out = RawBatch(tags, *(np.concatenate([getattr(r, c) for r in raws])
                               for c in ("sensor", "ts", "value", "quality")))
        if any(r.denied is not None for r in raws):
            out.denied = np.concatenate([r.denied if r.denied is not None else np.zeros(len(r), bool)
                                         for r in raws])
        return out
