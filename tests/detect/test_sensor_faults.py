"""Sensor faults through the whole pipeline: a sensor that stops reporting (STALE), sticks at one
value (FLAT) or reports outside its instrument range (RANGE) raises a fault alarm of its own, apart
from the process limits, and the fault clears when the sensor behaves again."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.catalog.schema import CatalogDoc, SensorDoc
from tests.conftest import TOKEN, build_services, eventually, make_settings

WATCHED = SensorDoc(tag="FT-9", name="Feed flow", kind="flow", unit="m3/h", device="DCS-T", range_low=0,
                    range_high=100, h=90, interval_s=0.1, stale_intervals=3, flatline_s=1.0)


@pytest.fixture
def api(tmp_path):
    services = build_services(make_settings(tmp_path))
    services.catalog.apply(CatalogDoc(sensors=[WATCHED]), "test")
    services.pipeline.reload_catalog()
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        c.services = services
        yield c


def send(c, values, ts=None):
    now = time.time()
    ts = ts or [now + i * 0.001 for i in range(len(values))]
    return c.post("/api/v1/telemetry", json={"sensor": ["FT-9"] * len(values), "ts": ts, "value": values}).json()


def faults(c, condition):
    items = c.get("/api/v1/alarms", params={"state": "all"}).json()["items"]
    return [a for a in items if a["sensor"] == "FT-9" and a["condition"] == condition]


def test_stale_is_raised_by_the_clock_and_cleared_by_a_reading(api):
    send(api, [10.0])
    assert eventually(lambda: (f := faults(api, "STALE")) and f[0]["active"])  # 0.3 s without a reading
    a = faults(api, "STALE")[0]
    assert a["priority"] == "high" and a["state"] == "active_unacknowledged"
    send(api, [11.0])
    assert eventually(lambda: not faults(api, "STALE")[0]["active"])
    assert faults(api, "H") == []  # a fault, not a process alarm


def test_a_backlog_replayed_fast_is_not_stale_between_its_batches(api):
    # an edge gateway catching up on an hour, faster than real time: each batch holds a second of
    # readings (every 0.05 s) and the next follows 0.2 s later. Judged by the wall clock the readings
    # are an hour old, so every tick between batches would raise STALE (stale time 0.3 s) and the
    # next batch clear it, with the clear stamped an hour before its raise
    t0 = time.time() - 3600
    for k in range(4):
        send(api, [10.0 + k + i / 100 for i in range(20)], ts=[t0 + k + i * 0.05 for i in range(20)])
        time.sleep(0.2)
    assert faults(api, "STALE") == []
    # the backlog caught up, nothing more comes: the sensor does go stale, stamped in reading time
    assert eventually(lambda: (f := faults(api, "STALE")) and f[0]["active"])
    raised = api.get(f"/api/v1/alarms/{faults(api, 'STALE')[0]['id']}/journal").json()["items"][0]["ts"]
    assert raised.startswith(time.strftime("%Y-%m-%dT%H", time.gmtime(t0)))


def test_unwatched_sensors_never_go_stale(api):
    time.sleep(0.4)
    items = api.get("/api/v1/alarms", params={"state": "all"}).json()["items"]
    assert [a for a in items if a["condition"] == "STALE" and a["sensor"] != "FT-9"] == []


def test_a_stuck_value_is_a_flatline(api):
    t0 = time.time() - 5
    send(api, [42.0] * 5, ts=[t0 + i * 0.3 for i in range(5)])  # 1.2 s unchanged
    f = faults(api, "FLAT")
    assert f and f[0]["active"] and f[0]["priority"] == "medium" and f[0]["value"] == 42.0
    send(api, [42.5], ts=[t0 + 2])
    assert not faults(api, "FLAT")[0]["active"]


def test_changing_values_are_not_a_flatline(api):
    t0 = time.time() - 5
    send(api, [40.0, 41.0, 40.0, 41.0, 40.0], ts=[t0 + i * 0.3 for i in range(5)])
    assert faults(api, "FLAT") == []


def test_values_outside_the_range_raise_a_range_fault(api):
    t0 = time.time() - 5
    r = send(api, [150.0], ts=[t0])
    assert r["accepted"] == 0 and "outside the instrument range" in r["rejected"][0]["reason"]
    f = faults(api, "RANGE")
    assert f and f[0]["active"] and f[0]["priority"] == "high"
    send(api, [50.0], ts=[t0 + 1])
    assert not faults(api, "RANGE")[0]["active"]


def test_an_active_fault_survives_a_restart_without_being_raised_twice(tmp_path):
    settings = make_settings(tmp_path)
    services = build_services(settings)
    services.catalog.apply(CatalogDoc(sensors=[WATCHED]), "test")
    services.pipeline.reload_catalog()
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        send(c, [150.0])
        alarm = faults(c, "RANGE")[0]
    again = build_services(settings, catalog=None)
    with TestClient(make_api(again), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        assert faults(c, "RANGE")[0]["active"]
        send(c, [50.0])
        journal = c.get(f"/api/v1/alarms/{alarm['id']}/journal").json()["items"]
        assert [e["event"] for e in journal] == ["raised", "cleared"]
