"""Alarms through the API: raised by readings, worked by operators, journaled (ISA-18.2)."""

from __future__ import annotations

import time

import pytest

from tests.conftest import eventually

NOW = time.time()


def send(client, tag, values, start=None, step=1.0):
    start = NOW - 100 if start is None else start
    r = client.post("/api/v1/telemetry", json={"sensor": [tag] * len(values),
                                               "ts": [start + i * step for i in range(len(values))],
                                               "value": values})
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text


def alarms(client, state="active"):
    r = client.get("/api/v1/alarms", params={"state": state})
    assert r.status_code == 200
    return r.json()["items"]


def test_limit_crossings_raise_alarms_with_priority_and_value(client):
    send(client, "TK1-LT", [10, 17.5, 19.0])
    items = alarms(client)
    assert [(a["sensor"], a["condition"], a["priority"], a["state"]) for a in items] == [
        ("TK1-LT", "HH", "urgent", "active_unacknowledged"),
        ("TK1-LT", "H", "medium", "active_unacknowledged"),
    ]
    hh = items[0]
    assert hh["value"] == 19.0 and hh["limit"] == 18.5 and hh["enterprise"] == "E-T"
    assert hh["raised_at"].endswith("Z")


def test_ack_return_to_normal_and_journal(client):
    send(client, "TK1-LT", [10, 17.5], start=NOW - 200)
    (h,) = alarms(client)
    r = client.post(f"/api/v1/alarms/{h['id']}/ack", json={"comment": "level checked on site"})
    assert r.status_code == 200 and r.json()["state"] == "active_acknowledged"
    assert client.post(f"/api/v1/alarms/{h['id']}/ack", json={}).status_code == 409
    # back under H minus the 0.5 deadband: acknowledged + returned = normal
    send(client, "TK1-LT", [16.6, 16.4], start=NOW - 150)
    assert alarms(client) == []
    assert client.get(f"/api/v1/alarms/{h['id']}").json()["state"] == "normal"
    # raised again, cleared before anyone acknowledges: returned_unacknowledged
    send(client, "TK1-LT", [17.2, 10.0], start=NOW - 140)
    unack = alarms(client, "unacknowledged")
    assert [(a["id"], a["state"]) for a in unack] == [(h["id"], "returned_unacknowledged")]
    j = client.get(f"/api/v1/alarms/{h['id']}/journal").json()["items"]
    assert [e["event"] for e in j] == ["raised", "acknowledged", "cleared", "raised", "cleared"]
    assert j[1]["actor"] == "admin" and j[1]["comment"] == "level checked on site"
    assert [e["state"] for e in j] == ["active_unacknowledged", "active_acknowledged", "normal",
                                       "active_unacknowledged", "returned_unacknowledged"]


def test_shelving_hides_the_alarm_and_expires_by_itself(client):
    send(client, "GT2", [30.0])
    (a,) = alarms(client)
    r = client.post(f"/api/v1/alarms/{a['id']}/shelve", json={"minutes": 0.01, "reason": "detector calibration"})
    assert r.status_code == 200 and r.json()["state"] == "shelved"
    assert alarms(client) == []
    assert [x["id"] for x in alarms(client, "shelved")] == [a["id"]]
    # 0.6 s later the shelving has expired and the alarm is back on the console
    back = eventually(lambda: alarms(client), 5)
    assert [x["id"] for x in back] == [a["id"]] and back[0]["state"] == "active_unacknowledged"
    events = [e["event"] for e in client.get(f"/api/v1/alarms/{a['id']}/journal").json()["items"]]
    assert events == ["raised", "shelved", "shelve_expired"]


def test_unshelve_and_shelve_limits(client, services):
    send(client, "GT2", [30.0])
    (a,) = alarms(client)
    url = f"/api/v1/alarms/{a['id']}"
    assert client.post(url + "/unshelve").status_code == 409
    too_long = services.settings.max_shelve_minutes + 1
    r = client.post(url + "/shelve", json={"minutes": too_long, "reason": "x"})
    assert r.status_code == 422 and "at most" in r.json()["detail"]
    assert client.post(url + "/shelve", json={"minutes": 0, "reason": "x"}).status_code == 422
    assert client.post(url + "/shelve", json={"minutes": 5}).status_code == 422  # reason required
    assert client.post(url + "/shelve", json={"minutes": 30, "reason": "hot work permit 17"}).status_code == 200
    r = client.post(url + "/unshelve", json={"comment": "work finished"})
    assert r.status_code == 200 and r.json()["state"] == "active_unacknowledged"


def test_out_of_service_and_suppression_overlay_the_process_state(client):
    send(client, "GT2", [30.0])
    (a,) = alarms(client)
    url = f"/api/v1/alarms/{a['id']}"
    assert client.post(url + "/out-of-service", json={"comment": "detector replaced"}).json()["state"] == \
        "out_of_service"
    assert alarms(client) == [] and len(alarms(client, "out_of_service")) == 1
    assert client.post(url + "/in-service", json={}).json()["state"] == "active_unacknowledged"
    assert client.post(url + "/suppress", json={"comment": "unit shut down"}).json()["state"] == "suppressed"
    assert alarms(client) == []
    assert client.post(url + "/unsuppress", json={}).json()["state"] == "active_unacknowledged"


def test_on_delay_raises_from_the_timer_without_more_readings(client):
    send(client, "GT1", [30.0], start=time.time())
    assert alarms(client) == []
    got = eventually(lambda: alarms(client), 6)
    assert [(a["sensor"], a["condition"]) for a in got] == [("GT1", "H")]


def test_unknown_alarm_is_404(client):
    assert client.get("/api/v1/alarms/999").status_code == 404
    assert client.post("/api/v1/alarms/999/ack", json={}).status_code == 404
    assert client.get("/api/v1/alarms/999/journal").status_code == 404


@pytest.mark.parametrize("state", ["bogus", "ACTIVE"])
def test_bad_state_filter_is_422(client, state):
    assert client.get("/api/v1/alarms", params={"state": state}).status_code == 422


def test_sensors_list_limits_and_latest_value(client):
    send(client, "TK1-LT", [3.0, 4.0])
    items = {s["tag"]: s for s in client.get("/api/v1/sensors").json()["items"]}
    assert set(items) == {"TK1-LT", "GT1", "GT2", "OTHER-PT"}
    tk = items["TK1-LT"]
    assert tk["limits"] == {"LL": 0.5, "L": 1.0, "H": 17.0, "HH": 18.5}
    assert tk["priorities"]["HH"] == "urgent" and tk["deadband"] == 0.5
    assert tk["enterprise"] == "E-T" and tk["device"] == "DCS-T"
    assert tk["last_value"] == 4.0
    assert client.get("/api/v1/sensors/NOPE").status_code == 404
