"""The contract every protocol adapter keeps, so the server (and the edge gateway) treat MQTT,
OPC UA and Modbus alike: start, stop, report health, and hand raw batches to one sink, the
normalize stage behind the pipeline. Adding a protocol is one module that implements `Adapter`
plus a run of the shared contract tests."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from hazwatch.normalize import RawBatch

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


class Adapter(Protocol):
    name: str

    async def start(self) -> None:
        """Begin taking data; returns once the adapter runs (it reconnects by itself afterwards)."""

    async def stop(self) -> None:
        """Stop taking data; everything already acknowledged to a sender has reached the sink."""

    def health(self) -> Health: ...


_KINDS = (("unknown sensor", "unknown sensor"), ("sensor ", "sensor on another device than the sender's"),
          ("value is not", "value is not a finite number"), ("value ", "outside the instrument range"),
          ("duplicate", "duplicate (sensor, ts)"), ("timestamp", "timestamp out of bounds"))


def reason_kind(reason: str) -> str:
    """A rejection reason without its particulars, for an adapter's counters."""
    return next((kind for prefix, kind in _KINDS if reason.startswith(prefix)), reason)
