"""Signals between the server and its MQTT receiver process that no lock stands behind.

multiprocessing's Event is a condition over a shared semaphore: a process killed while it holds
that semaphore (the server's drain loop takes it fifty times a second) leaves it taken for good,
and the other side then blocks in `is_set()`, `set()` or `wait()` for ever. A server killed with
SIGKILL left its receiver stuck that way, holding the broker session and the spool. So flags are
plain shared bytes and the wake-up is a byte down a pipe: nothing either side does can be left
half done by the other's death."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import select
from multiprocessing.context import BaseContext


class Flag:
    """A shared boolean, written by one side and read by the other."""

    def __init__(self, ctx: BaseContext) -> None:
        self._v = ctx.RawValue("b", 0)

    def set(self) -> None:
        self._v.value = 1

    def clear(self) -> None:
        self._v.value = 0

    def is_set(self) -> bool:
        return bool(self._v.value)


class Wakeup:
    """The receiver nudges the server's drain after each spooled group. A nudge is one byte; when
    the pipe is full the server has nudges enough unread, so a full pipe drops it rather than
    block the receiver. Each side sets its own end non-blocking on first use (the child gets
    copies of both ends when it is spawned; each uses one)."""

    def __init__(self, ctx: BaseContext | None = None) -> None:
        self._r, self._w = (ctx or mp.get_context("spawn")).Pipe(duplex=False)
        self._set: set[str] = set()  # which ends this process has made non-blocking

    def _fd(self, end: str) -> int:
        fd = getattr(self, end).fileno()
        if end not in self._set:
            os.set_blocking(fd, False)
            self._set.add(end)
        return fd

    def notify(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._fd("_w"), b"\0")

    def wait(self, timeout: float) -> bool:
        """True when nudged within `timeout` seconds (and the nudges taken)."""
        ready, _, _ = select.select([self._fd("_r")], [], [], timeout)
        if ready:
            self.clear()
        return bool(ready)

    def clear(self) -> None:
        fd = self._fd("_r")
        with contextlib.suppress(BlockingIOError):
            while len(os.read(fd, 1 << 16)) == 1 << 16:
                pass
