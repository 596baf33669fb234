"""The writer thread serves every caller that still waits, and outlives one that gave up; a batch
refused at a worker's fence leaves no reading unevaluated."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from sqlalchemy import text

from hazwatch.normalize import RawBatch
from hazwatch.pipeline import Fenced, Pipeline
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


class _Ownership:
    """A worker's view of its partitions, with a switch for "another worker took one over"."""

    def __init__(self) -> None:
        self.fenced = False

    def scope(self, index, again=False):
        return index

    def check(self, conn) -> None:
        if self.fenced:
            raise Fenced("partitions [3] are held by a newer lease than this node's")


def test_readings_of_a_fenced_batch_are_evaluated_once_the_state_is_rebuilt(tmp_path):
    """A batch refused at the fence is stored but its alarm changes are not: the state the
    evaluator had moved to is rebuilt from the checkpoint and the store before the next batch, so
    a reading of a partition still ours in that batch raises its alarm at its own time."""
    services = build_services(make_settings(tmp_path))
    own = _Ownership()
    pipeline = Pipeline(services.engine, services.store, services.catalog, services.bus, services.pipeline.clock,
                        ownership=own)
    pipeline.start()
    try:
        now = time.time() - 60
        assert pipeline.ingest(_raw(services, "TK1-LT", now, 10.0)).result(5).accepted == 1
        own.fenced = True
        with pytest.raises(Fenced):
            pipeline.ingest(_raw(services, "TK1-LT", now + 1, 17.5)).result(5)  # above H: stored, not evaluated
        own.fenced = False
        assert pipeline.ingest(_raw(services, "TK1-LT", now + 2, 17.6)).result(5).accepted == 1
        with services.engine.connect() as conn:
            journal = conn.execute(text(
                "SELECT a.condition, j.event, j.ts FROM alarm_journal j JOIN alarms a ON a.id = j.alarm_id "
                "WHERE j.event = 'raised'")).all()
        assert [tuple(r) for r in journal] == [("H", "raised", int((now + 1) * 1e6))]
    finally:
        pipeline.stop()


def test_a_catalog_change_is_loaded_off_the_writer_and_swapped_in_on_it(tmp_path):
    """Loading the catalog's index is a database read that grows with the sensors (a third of a
    second at 5,000): the writer never does it. A change from another process, seen by the writer's
    timer, is loaded on a thread of its own; a change on this process is loaded by its caller; both
    are swapped in on the writer, and the new sensor is accepted afterwards."""
    from hazwatch.catalog.schema import CatalogDoc, SensorDoc

    services = build_services(make_settings(tmp_path, tick_interval_s=0.05))
    pipeline = services.pipeline
    loads, swaps = [], []
    load, swap = pipeline._load_index, pipeline._swap_index
    pipeline._load_index = lambda again=False: loads.append(threading.current_thread().name) or load(again)
    pipeline._swap_index = lambda index: swaps.append(threading.current_thread().name) or swap(index)
    pipeline.start()
    try:
        doc = SensorDoc(tag="NEW-1", name="new", kind="pressure", unit="MPa", device="DCS-T", range_low=0,
                        range_high=10)
        services.catalog.apply(CatalogDoc(sensors=[doc]), "another process")  # nobody tells the pipeline
        deadline = time.monotonic() + 10
        while "NEW-1" not in services.index.tag_to_id and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "NEW-1" in services.index.tag_to_id
        assert loads == ["hazwatch-catalog-load"] and swaps == ["hazwatch-writer"]
        assert pipeline.ingest(_raw(services, "NEW-1", time.time() - 1, 5.0)).result(5).accepted == 1

        services.catalog.apply(CatalogDoc(sensors=[doc.model_copy(update={"tag": "NEW-2"})]), "this process")
        services.catalog_changed()  # an API write: seen by the next request at once
        assert "NEW-2" in services.index.tag_to_id
        assert loads[1] == threading.current_thread().name and swaps[1] == "hazwatch-writer"

        busy = threading.Event()
        pipeline.call(lambda: (busy.set(), time.sleep(0.3)))
        assert busy.wait(5)
        stopping = threading.Thread(target=pipeline.stop)
        stopping.start()
        time.sleep(0.05)
        late = pipeline.call(lambda: 1)  # queued behind the stop: refused, not left waiting for ever
        stopping.join(10)
        with pytest.raises(Exception, match="the writer has stopped"):
            late.result(1)
    finally:
        pipeline.stop()



def test_the_pipeline_is_a_writer_and_says_when_it_is_ready(tmp_path):
    """`Services.pipeline` is a `Writer` (the ingest and API nodes' stand-ins are checked in
    tests/scale); the readiness probe asks it."""
    from hazwatch.services import Writer

    services = build_services(make_settings(tmp_path))
    assert isinstance(services.pipeline, Writer)
    assert services.ready() == (False, "writer not running")
    services.pipeline.start()
    try:
        assert services.ready() == (True, "evaluating")
    finally:
        services.pipeline.stop()
