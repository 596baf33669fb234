"""Time source as a dependency: the pipeline asks it for "now" (timers, future checks), never the OS directly."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_us(self) -> int: ...


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000
