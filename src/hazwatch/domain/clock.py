"""Time source as a dependency: the pipeline asks it for "now" (timers, future checks), never the OS directly."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Protocol

from hazwatch.domain.errors import Invalid

US = 1_000_000
MAX_EPOCH_S = 253_402_300_799  # 9999-12-31T23:59:59Z


def iso(us: int | None, timespec: str = "milliseconds") -> str | None:
    """µs since the epoch as ISO 8601 in UTC with a Z, the one form every answer, message and report
    uses (`timespec` as `datetime.isoformat` takes it); None stays None."""
    if us is None:
        return None
    return datetime.fromtimestamp(us / US, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_instant(text: str, name: str) -> int:
    """A time as a person writes it, ISO 8601 (UTC when no offset is given) or epoch seconds, in
    µs; refused naming `name`."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not math.isfinite(seconds) or abs(seconds) > MAX_EPOCH_S:
            raise Invalid(f"`{name}`: {text!r} is not a time between year 1 and 9999")
        return round(seconds * US)
    dt = None
    for form in (text, text.replace(" ", "+") if text.count(" ") == 1 else None):  # a query string's + reads " "
        try:
            dt = datetime.fromisoformat(form) if form else None
        except ValueError:
            continue
        if dt is not None:
            break
    if dt is None:
        raise Invalid(f"`{name}`: {text!r} is neither ISO 8601 nor epoch seconds")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return int(dt.timestamp()) * US + dt.microsecond
    except (OverflowError, ValueError):
        raise Invalid(f"`{name}`: {text!r} is out of range") from None


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
