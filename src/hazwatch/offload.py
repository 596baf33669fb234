"""CPU-heavy work (PDF and HTML reports with their charts, fitting a pack's detectors) in a process
of its own.

A report renders for a second or more of pure Python (reportlab, jinja2). Run on a thread of the
server it would hold the interpreter lock that the writer needs for every batch; run here, the
server's thread only waits (without the lock) for the file to be written. One process serves the
whole server, started with its first report (spawned, not forked: the server has threads) and
kept for the next. Where no process can be started, the work runs in the caller's thread, as
before: a report is never lost for want of a process.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

log = logging.getLogger(__name__)
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return _pool


def _reset() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def run(fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in the render process, waiting for its result; fn is a module-level function and
    its arguments plain data. Its own exceptions come back as they are."""
    for attempt in (1, 2):
        try:
            future = _executor().submit(fn, *args)
        except (OSError, RuntimeError) as e:  # no process to be had here (or the interpreter is exiting)
            log.warning("render process unavailable (%s); rendering in this thread", e)
            break
        try:
            return future.result()
        except BrokenProcessPool:  # the process died (killed, out of memory): a fresh one, once
            _reset()
            if attempt == 2:
                break
    return fn(*args)
