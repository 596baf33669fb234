"""The contract every protocol adapter keeps, so the server (and the edge gateway) treat MQTT,
OPC UA and Modbus alike: start, stop, report health, and hand raw batches to one sink, the
normalize stage behind the pipeline. Adding a protocol is one module that implements `Adapter`
plus a run of the shared contract tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.batch import QUALITY_DTYPE, TS_DTYPE, RawBatch

# Where batches go: returns a future that resolves once the batch is durable (the pipeline's
# ingest), with `.accepted` and `.rejected` on its result.
Sink = Callable[[RawBatch], Future]


@dataclass
class Health:
    name: str
    state: str = "stopped"  # starting | running | degraded | stopped
    detail: str = ""
    counters: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"name": self.name, "state": self.state, "detail": self.detail, **self.counters}


class BatchVerifier(Protocol):
    """Checks signed batches (the platform's auth.signing.BatchSignatures)."""

    def device_key(self, token_id: int, device_id: int) -> bytes | None: ...

    def verify(self, key: bytes, token_id: int, seq: int, signature: str, body: bytes) -> int: ...

    def accepted(self, token_id: int, seq: int) -> None: ...


class Adapter(Protocol):
    name: str

    async def start(self) -> None:
        """Begin taking data; returns once the adapter runs (it reconnects by itself afterwards)."""

    async def stop(self) -> None:
        """Stop taking data; everything already acknowledged to a sender has reached the sink."""

    def health(self) -> Health: ...


_KINDS = (("unknown sensor", "unknown sensor"), ("sensor ", "sensor on another device than the sender's"),
          ("value is not", "value is not a finite number"), ("value ", "outside the instrument range"),
          ("duplicate", "duplicate (sensor, ts)"))


def reason_kind(reason: str) -> str:
    """A rejection reason without its particulars, for an adapter's counters. A timestamp in the
    future is told apart from an ancient one: it usually means the sender's clock runs ahead."""
    if reason.startswith("timestamp"):
        return "timestamp in the future (sender's clock ahead?)" if "in the future" in reason else \
            "timestamp before 2000-01-01"
    return next((kind for prefix, kind in _KINDS if reason.startswith(prefix)), reason)


class RowBuffer:
    """Readings gathered one by one (OPC UA notifications, Modbus polls) and handed to the sink as
    one batch per flush, so a busy field costs one pipeline pass per flush, not one per value."""

    def __init__(self, sink: Sink, index: Callable[[], SensorIndex] | None) -> None:
        self.sink, self.index = sink, index
        self.rows: list[tuple[str, int, float, int]] = []
        self.counters: Counter = Counter()
        self.rejections: Counter = Counter()
        self.last_error = ""

    def add(self, tag: str, ts_us: int, value: float, quality: int) -> None:
        self.rows.append((tag, ts_us, value, quality))

    async def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows = self.rows, []
        n = len(rows)
        tags = [r[0] for r in rows]
        ids = self.index().lookup(tags) if self.index is not None else np.full(n, -1, np.int32)  # edge: no catalog
        raw = RawBatch(tags, ids, np.fromiter((r[1] for r in rows), TS_DTYPE, n),
                       np.fromiter((r[2] for r in rows), np.float64, n),
                       np.fromiter((r[3] for r in rows), QUALITY_DTYPE, n))
        try:
            result = await asyncio.wrap_future(self.sink(raw))
        except Exception as e:  # the sink refused the batch (a full spool with policy `refuse`)
            self.counters["readings_not_taken"] += n
            self.last_error = f"{type(e).__name__}: {e}"
            return
        self.counters["readings_accepted"] += result.accepted
        self.counters["readings_rejected"] += len(result.rejected)
        for r in result.rejected:
            self.rejections[reason_kind(r.reason)] += 1
