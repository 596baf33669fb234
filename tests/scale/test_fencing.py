"""The database refuses a worker whose lease was taken over, however late it finds out."""

from __future__ import annotations

import pytest

from hazwatch.app import open_database
from hazwatch.catalog.index import SensorIndex
from hazwatch.domain import SystemClock
from hazwatch.pipeline import Fenced
from hazwatch.scale.leases import PartitionLeases
from tests.conftest import make_settings


def test_a_newer_token_fences_the_old_owner_out(tmp_path):
    engine = open_database(make_settings(tmp_path))
    old = PartitionLeases(engine, SystemClock(), "old", 4, 2.0)
    new = PartitionLeases(engine, SystemClock(), "new", 4, 2.0)
    old._fence(1, 5)
    old._fence(2, 6)
    old.scope(SensorIndex.load(engine))  # the pipeline's state is built for partitions 1 and 2
    with engine.begin() as conn:
        old.check(conn)  # sole owner: fine
    new._fence(1, 9)  # the lease lapsed and "new" created it again
    new.scope(SensorIndex.load(engine))
    with engine.begin() as conn, pytest.raises(Fenced, match=r"partitions \[1\]"):
        old.check(conn)
    with engine.begin() as conn:
        new.check(conn)
    with pytest.raises(Fenced, match="newer token 9"):
        old._fence(1, 7)  # a token older than the one held never wins
    assert old.tokens == {1: 5, 2: 6} and new.tokens == {1: 9}
    # the old owner's lease round notices the loss, but until its state is rebuilt without the
    # partition, what it works on is still fenced
    old._drop(1)
    old.scope(SensorIndex.load(engine), again=True)  # a catalog reload keeps the scope the state was built for
    with engine.begin() as conn, pytest.raises(Fenced, match=r"partitions \[1\]"):
        old.check(conn)
    old.scope(SensorIndex.load(engine))
    with engine.begin() as conn:
        old.check(conn)
