"""The telemetry decoder under generated input. Whatever a sender puts in a body, the answer is the
readings or a PayloadError with a 4xx status and a reason (never another exception: over HTTP
that would be a 500, over MQTT a receiver that stops); the row and columnar forms of the same
readings decode to the same arrays; and over HTTP every reading of a batch is either accepted
and stored or refused with its index, none lost and none counted twice."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hazwatch.app import make_api
from hazwatch.ingest.payload import PayloadError, columns, decode
from tests.conftest import TOKEN, build_services, make_settings

KNOWN = ["TK1-LT", "GT1"]  # in tests/data/catalog.yaml: TK1-LT 0..20 m
FIELDS = ["readings", "sensor", "ts", "value", "quality"]


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    return build_services(make_settings(tmp_path_factory.mktemp("payload")))


_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=12),
                    st.sampled_from(KNOWN + ["good", "bad", "uncertain", "2026-12-07T08:00:00", "nan"]))
_json = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), inner, max_size=5),
                     max_leaves=25)
_bodies = st.one_of(
    st.binary(max_size=200),
    _json.map(lambda v: orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS) if _dumpable(v) else b"{}"),
    st.dictionaries(st.sampled_from(FIELDS), _json, max_size=5).map(lambda v: orjson.dumps(v) if _dumpable(v)
                                                                     else b"{}"),
)


def _dumpable(v) -> bool:
    try:
        orjson.dumps(v)
    except orjson.JSONEncodeError:
        return False  # integers beyond 64 bits
    return True


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_bodies)
def test_any_body_decodes_or_is_refused_with_a_4xx_reason(services, body):
    try:
        raw = decode(body, services.pipeline.index, max_readings=50)
    except PayloadError as e:
        assert e.status in (400, 413, 422) and e.message
    else:
        n = len(raw)
        assert n <= 50
        assert len(raw.sensor) == len(raw.ts) == len(raw.value) == len(raw.quality) == n
        assert raw.sensor.dtype == np.int32 and raw.value.dtype == np.float64


_ts = st.one_of(st.floats(-1e12, 1e12, allow_nan=False),
                st.datetimes(datetime(1970, 1, 2), datetime(2200, 1, 1), timezones=st.just(UTC)))
_reading = st.tuples(st.sampled_from(KNOWN + ["NOPE", "中文-1"]), _ts,
                     st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
                     st.sampled_from(["good", "uncertain", "bad"]))


def _wire_ts(t):
    return t.isoformat() if isinstance(t, datetime) else t


def _expected_us(t) -> int:
    if isinstance(t, datetime):
        return int(t.timestamp()) * 1_000_000 + t.microsecond
    return round(min(max(t, -1e11), 1e11) * 1_000_000)  # clipped, so the range checks refuse it


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_reading, max_size=30))
def test_row_and_columnar_forms_decode_alike_and_exactly(services, readings):
    index = services.pipeline.index
    rows = orjson.dumps({"readings": [{"sensor": s, "ts": _wire_ts(t), "value": v, "quality": q}
                                      for s, t, v, q in readings]})
    cols = orjson.dumps({"sensor": [r[0] for r in readings], "ts": [_wire_ts(r[1]) for r in readings],
                         "value": [r[2] for r in readings], "quality": [r[3] for r in readings]})
    a, b = decode(rows, index, 100), decode(cols, index, 100)
    assert a.tags == b.tags == [r[0] for r in readings]
    for f in ("sensor", "ts", "value", "quality"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.ts.tolist() == [_expected_us(r[1]) for r in readings]
    assert [None if math.isnan(v) else v for v in a.value.tolist()] == [r[2] for r in readings]
    assert a.sensor.tolist() == [index.tag_to_id.get(r[0], -1) for r in readings]


def test_too_many_readings_is_413_before_any_is_looked_at():
    body = orjson.dumps({"sensor": ["X"] * 11, "ts": [1.0] * 11, "value": [1.0] * 11})
    with pytest.raises(PayloadError) as e:
        columns(body, max_readings=10)
    assert e.value.status == 413 and "limit is 10" in e.value.message


# -- the same over HTTP: accepted + refused is always the whole batch ----------------------------------------
_http_reading = st.tuples(st.sampled_from(KNOWN + ["NOPE"]),
                          st.floats(-3600, 3600, allow_nan=False),  # offset from now: past, present, future
                          st.one_of(st.none(), st.floats(-5, 25)))


@pytest.fixture(scope="module")
def http(services):
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_http_reading, min_size=1, max_size=20))
def test_every_reading_is_accepted_or_refused_with_its_index(http, readings):
    now = time.time()
    body = {"sensor": [r[0] for r in readings], "ts": [now + r[1] for r in readings],
            "value": [r[2] for r in readings]}
    r = http.post("/api/v1/telemetry", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    refused = [x["index"] for x in out["rejected"]]
    assert len(set(refused)) == len(refused) and all(0 <= i < len(readings) for i in refused)
    assert out["accepted"] + len(refused) == len(readings)
    for x in out["rejected"]:
        assert x["sensor"] == readings[x["index"]][0] and x["reason"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_bodies)
def test_no_body_makes_the_route_fail(http, body):
    r = http.post("/api/v1/telemetry", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400, 413, 422), r.text
    if r.status_code != 200:
        assert r.json()["detail"]
