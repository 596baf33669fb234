"""The one way a plan reaches back into the plant: a confirmed write through a protocol adapter,
read back and compared. The adapters live in ingest/ and are handed in by the composition root."""

from __future__ import annotations

from typing import Protocol


class InterlockWriter(Protocol):
    async def write(self, target: str, value: float) -> float | None:
        """Write `value` to `target` and return what reading it back gives (None where the target
        cannot be read back, such as an MQTT command topic). Raises on failure."""
        ...


def readback_matches(value: float, readback: float | None) -> bool:
    return readback is not None and abs(readback - value) <= 1e-6 * max(1.0, abs(value))
