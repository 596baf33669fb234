"""Reports render in a process of their own, so their charts never hold the interpreter lock the
writer needs; where no process can be had, they render in the caller's thread all the same."""

from __future__ import annotations

import os

import pytest

from hazwatch import offload


def test_work_runs_in_another_process_and_its_errors_come_back():
    assert offload.run(os.getpid) != os.getpid()
    assert offload.run(os.getpid) == offload.run(os.getpid)  # one process, kept for the next report
    with pytest.raises(ZeroDivisionError):
        offload.run(divmod, 1, 0)


def test_without_a_process_the_work_runs_here(monkeypatch):
    def no_process():
        raise OSError("no processes here")

    monkeypatch.setattr(offload, "_executor", no_process)
    assert offload.run(os.getpid) == os.getpid()
