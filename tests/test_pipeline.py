"""The writer thread serves every caller that still waits, and outlives one that gave up."""

from __future__ import annotations

import threading
import time

import numpy as np

from hazwatch.normalize import RawBatch
from tests.conftest import build_services, make_settings


def _raw(services, tag: str, ts: float, value: float) -> RawBatch:
    tags = [tag]
    return RawBatch(tags, services.index.lookup(tags), np.array([int(ts * 1e6)]), np.array([value]),
                    np.zeros(1, np.int8))


def test_a_cancelled_request_is_dropped_and_the_writer_lives_on(tmp_path):
    services = build_services(make_settings(tmp_path))
    pipeline = services.pipeline
    pipeline.start()
    try:
        busy = threading.Event()
        held = pipeline.call(lambda: (busy.set(), time.sleep(0.5)))  # keeps the writer busy
        assert busy.wait(5)
        now = time.time()
        gone = pipeline.ingest(_raw(services, "TK1-LT", now - 2, 5.0))
        assert gone.cancel()  # the caller gives up while its request is still queued
        kept = pipeline.ingest(_raw(services, "TK1-LT", now - 1, 6.0))
        held.result(5)
        assert kept.result(5).accepted == 1
        assert pipeline.running  # the cancelled future did not end the writer thread
        values = services.store.series(services.index.tag_to_id["TK1-LT"], int((now - 10) * 1e6),
                                       int((now + 10) * 1e6), None).columns["value"].tolist()
        assert values == [6.0]  # the cancelled request was not served
        assert pipeline.call(lambda: 42).result(5) == 42
    finally:
        pipeline.stop()
