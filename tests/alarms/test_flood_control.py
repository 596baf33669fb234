"""Alarm-flood control (ISA-18.2 / EEMUA 191) through the pipeline: floods per area with their start
and end, chattering alarms marked and (optionally) suppressed with expiry, state-based suppression
while a unit is shut down, and first-out grouping; all of it in the alarm journal."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from tests.conftest import TOKEN, build_services, eventually, make_settings


@pytest.fixture
def api(tmp_path):
    """api(sensors, **settings): a started server with these sensors; stopped after the test."""
    clients: list[TestClient] = []

    def make(sensors, **settings) -> TestClient:
        services = build_services(make_settings(tmp_path, **settings))
        c = TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"})
        c.__enter__()
        clients.append(c)
        assert c.post("/api/v1/catalog", json={"sensors": sensors}).status_code == 200
        services.pipeline.reload_catalog()
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def tt(tag: str, device: str = "DCS-T", **kw) -> dict:
    return {"tag": tag, "name": tag, "kind": "temperature", "unit": "°C", "device": device, "range_low": 0,
            "range_high": 200, "h": 100, **kw}


def send(c, **values) -> None:
    now = time.time()
    body = {"sensor": list(values), "ts": [now] * len(values), "value": list(values.values())}
    assert c.post("/api/v1/telemetry", json=body).json()["accepted"] == len(values)


def alarm(c, tag: str, condition: str = "H") -> dict:
    return next(a for a in c.get("/api/v1/alarms", params={"state": "all"}).json()["items"]
                if a["sensor"] == tag and a["condition"] == condition)


def events(c, alarm_id: int) -> list[dict]:
    return c.get(f"/api/v1/alarms/{alarm_id}/journal").json()["items"]


def test_more_than_ten_alarms_in_the_window_is_a_flood_that_ends_when_they_stop(api):
    tags = [f"TT-F{i}" for i in range(12)]
    c = api([tt(t) for t in tags] + [tt("TT-O", device="DCS-O")], flood_window_s=1.5)
    for t in tags[:10]:
        send(c, **{t: 150.0})
    assert c.get("/api/v1/floods").json()["items"] == []  # ten is the limit, not yet a flood
    send(c, **{tags[10]: 150.0})
    floods = c.get("/api/v1/floods", params={"active": True}).json()["items"]
    assert len(floods) == 1 and floods[0]["enterprise"] == "E-T" and floods[0]["alarms"] == 11
    assert "flood started: 11 alarms" in events(c, alarm(c, tags[10])["id"])[0]["comment"]
    send(c, **{tags[11]: 150.0, "TT-O": 150.0})
    assert "raised during a flood" in events(c, alarm(c, tags[11])["id"])[0]["comment"]
    assert "flood" not in (events(c, alarm(c, "TT-O")["id"])[0]["comment"] or "")  # another enterprise
    assert eventually(lambda: not c.get("/api/v1/floods").json()["items"][0]["active"])  # the window empties
    done = c.get("/api/v1/floods").json()["items"][0]
    assert done["ended_at"] is not None and done["alarms"] == 12 and done["peak"] == 12


def test_a_chattering_alarm_is_marked_suppressed_and_released_when_the_suppression_expires(api):
    c = api([tt("TT-C")], chatter_suppress_s=0.5)
    for _ in range(2):
        send(c, **{"TT-C": 150.0})
        send(c, **{"TT-C": 50.0})
    assert not alarm(c, "TT-C")["chattering"]
    send(c, **{"TT-C": 150.0})  # the third activation within a minute
    a = alarm(c, "TT-C")
    assert a["chattering"] and a["suppressed"] and a["suppression"] == "chatter" and a["state"] == "suppressed"
    names = [e["event"] for e in events(c, a["id"])]
    assert names[-3:] == ["raised", "chattering", "suppressed"]
    assert eventually(lambda: not alarm(c, "TT-C")["suppressed"])
    last = events(c, a["id"])[-1]
    assert last["event"] == "unsuppressed" and last["actor"] == "system" and "expired" in last["comment"]


def test_chattering_is_only_marked_when_suppression_is_off(api):
    c = api([tt("TT-C")])
    for v in (150.0, 50.0, 150.0, 50.0, 150.0):
        send(c, **{"TT-C": v})
    a = alarm(c, "TT-C")
    assert a["chattering"] and not a["suppressed"] and a["state"] == "active_unacknowledged"


def test_a_stopped_unit_suppresses_its_alarms_until_it_runs_again(api):
    pump = {"tag": "P-1", "name": "Feed pump", "kind": "state", "unit": "", "device": "DCS-T", "range_low": 0,
            "range_high": 1}
    c = api([pump, tt("TT-S", suppress_when="stopped(P-1)")])
    send(c, **{"P-1": 0.0})
    send(c, **{"TT-S": 20.0})
    send(c, **{"TT-S": 150.0})  # hot while the unit is down: expected, not an alarm for the operator
    a = alarm(c, "TT-S")
    assert a["active"] and a["suppressed"] and a["suppression"] == "state"
    assert a["id"] not in {x["id"] for x in c.get("/api/v1/alarms").json()["items"]}  # off the console
    assert events(c, a["id"])[-1]["comment"] == "state-based: stopped(P-1)"
    send(c, **{"P-1": 1.0})
    a = alarm(c, "TT-S")
    assert not a["suppressed"] and a["state"] == "active_unacknowledged"
    assert events(c, a["id"])[-1]["event"] == "unsuppressed"


def test_the_first_alarm_stands_for_its_consequences(api):
    c = api([tt("TT-1"), tt("TT-2"), tt("TT-3", device="DCS-O")])
    send(c, **{"TT-1": 150.0})
    send(c, **{"TT-2": 150.0, "TT-3": 150.0})
    first, second, other = alarm(c, "TT-1"), alarm(c, "TT-2"), alarm(c, "TT-3")
    assert first["first_out"] is None and second["first_out"] == first["id"] and other["first_out"] is None
    assert f"consequence of alarm {first['id']} (first out)" in events(c, second["id"])[0]["comment"]
    grouped = {a["sensor"] for a in c.get("/api/v1/alarms", params={"grouped": True}).json()["items"]}
    assert {"TT-1", "TT-3"} <= grouped and "TT-2" not in grouped
