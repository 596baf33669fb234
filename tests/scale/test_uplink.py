"""What a park sends up for a window of readings: per sensor, never the readings themselves."""

from __future__ import annotations

import pytest

from hazwatch.domain.batch import Quality, ReadingBatch
from hazwatch.scale.tiers import aggregates
from tests.conftest import build_services, make_settings


def test_window_aggregates_per_sensor_leave_bad_readings_out(tmp_path):
    index = build_services(make_settings(tmp_path)).index
    a, b = index.tag_to_id["TK1-LT"], index.tag_to_id["GT1"]
    first, second = sorted((a, b))
    batch = ReadingBatch.of([first, first, first, second], [1, 2, 3, 1], [2.0, 4.0, 99.0, 7.0],
                            [0, 0, int(Quality.BAD), 0])
    out = aggregates(batch, index)
    assert out["sensor"] == [index.tags[first], index.tags[second]]
    assert out["min"] == [2.0, 7.0] and out["max"] == [4.0, 7.0] and out["last"] == [4.0, 7.0]
    assert out["avg"] == pytest.approx([3.0, 7.0]) and out["count"] == [2, 1]
    empty = aggregates(ReadingBatch.of([first], [1], [1.0], [int(Quality.BAD)]), index)
    assert empty["sensor"] == [] and empty["count"] == []
