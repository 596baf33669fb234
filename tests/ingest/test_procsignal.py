"""The receiver's signals to its server: a nudge wakes the drain, a full pipe never blocks the
receiver, and flags need no lock (a killed process can leave none held)."""

from __future__ import annotations

import multiprocessing as mp
import time

from hazwatch.ingest.procsignal import Flag, Wakeup


def _nudge_and_flag(w: Wakeup, f: Flag) -> None:
    f.set()
    for _ in range(200_000):  # far more than the pipe holds: each must return at once
        w.notify()


def test_a_nudge_from_another_process_wakes_the_waiter_and_a_full_pipe_does_not_block():
    ctx = mp.get_context("spawn")
    w, f = Wakeup(ctx), Flag(ctx)
    assert not w.wait(0.05) and not f.is_set()
    p = ctx.Process(target=_nudge_and_flag, args=(w, f))
    p.start()
    p.join(30)
    assert p.exitcode == 0, "the receiver blocked on a full pipe"
    assert f.is_set()
    start = time.monotonic()
    assert w.wait(1.0) and time.monotonic() - start < 0.5
    assert not w.wait(0.05), "every nudge was taken by the first wait"
