"""A worker sees only its partitions; the telemetry wire format carries columns intact."""

from __future__ import annotations

import numpy as np
import pytest

from hazwatch.catalog import SensorIndex
from hazwatch.scale import partitions, wire
from tests.conftest import build_services, make_settings


def test_scoped_index_hides_other_partitions(tmp_path):
    services = build_services(make_settings(tmp_path))
    index: SensorIndex = services.index
    parts = partitions.of_orgs(index.org_id, 2)
    mine = int(parts[index.tag_to_id["TK1-LT"]])
    scoped = partitions.scoped(index, {mine}, 2)
    for tag, sid in index.tag_to_id.items():
        assert scoped.exists[sid] == (int(parts[sid]) == mine), tag
    assert all(d.org_id % 2 == mine for d in scoped.devices.values())
    assert {d.org_id % 2 for d in index.devices.values()} == {0, 1}  # the other device is really left out
    assert not partitions.scoped(index, set(), 2).exists.any()
    assert scoped.size == index.size  # ids keep their slots


def test_readings_round_trip_and_bad_messages_are_named():
    cols = (np.array([3, 7], np.int32), np.array([10, 20], np.int64), np.array([1.5, -2.0]), np.array([0, 2], np.int8))
    got = wire.decode_readings(wire.encode_readings(*cols))
    for name, col in zip(("sensor", "ts", "value", "quality"), cols, strict=True):
        assert got[name].tolist() == col.tolist() and got[name].dtype == col.dtype
    data = wire.encode_readings(*cols)
    with pytest.raises(wire.WireError, match="does not hold 2 readings"):
        wire.decode_readings(data[:-1])
    with pytest.raises(wire.WireError, match="shorter than its header"):
        wire.decode_readings(b"\x01")
    assert wire.decode_status(wire.encode_status("D1", False, 5)) == ("D1", False, 5)
    with pytest.raises(wire.WireError, match="not a device status"):
        wire.decode_status(b"{}")
