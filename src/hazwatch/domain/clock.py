"""Time source as a dependency: the pipeline asks it for "now" (timers, future checks), never the OS directly."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_us(self) -> int: ...


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000


class ReadingClock:
    """Time as the readings tell it: the newest reading time seen, advanced by the wall clock since
    it was seen. Timers that wait for data that has not come (a hold, a silent sensor) run on it, so
    a backlog replayed faster than real time is judged by its own timestamps, while a live stream
    (or one that stops) reads the same as the wall clock."""

    def __init__(self) -> None:
        self.seen_ts: int | None = None
        self.seen_at = 0

    def saw(self, newest_ts: int, now_us: int | None) -> None:
        if self.seen_ts is None or newest_ts >= self.seen_ts:
            self.seen_ts, self.seen_at = newest_ts, newest_ts if now_us is None else now_us

    def now(self, now_us: int) -> int:
        return now_us if self.seen_ts is None else self.seen_ts + max(0, now_us - self.seen_at)
