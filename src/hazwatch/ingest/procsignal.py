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
    block the receiver."""

    def __init__(self, ctx: BaseContext | None = None) -> None:
        self._r, self._w = (ctx or mp.get_context("spawn")).Pipe(duplex=False)
        self._nonblocking = False

    def notify(self) -> None:
        fd = self._w.fileno()
        if not self._nonblocking:
            os.set_blocking(fd, False)
            self._nonblocking = True
        with contextlib.suppress(BlockingIOError):
            os.write(fd, b"\0")

    def wait(self, timeout: float) -> bool:
        """True when nudged within `timeout` seconds (and the nudges taken)."""
        fd = self._r.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            self.clear()
        return bool(ready)

    def clear(self) -> None:
        fd = self._r.fileno()
        os.set_blocking(fd, False)
        try:
            while len(os.read(fd, 1 << 16)) == 1 << 16:
                pass
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(fd, True)
