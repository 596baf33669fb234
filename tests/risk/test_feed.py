"""The upward feed: the summary of an org for the tier above, on request and pushed (on the bus and,
through Mosquitto, retained on hz/v1/{org}/summary)."""

from __future__ import annotations

import json
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from hazwatch.api.routers.risk import Summary
from hazwatch.app import make_api
from hazwatch.risk.feed import SUMMARY_PUBLISHED, topic
from hazwatch.sim.park import park_catalog
from tests.conftest import TOKEN, build_services, make_settings, require_service
from tests.incidents.helpers import add_user

API = "/api/v1"


def _park(tmp_path, **settings):
    # timers off: STALE faults of the silent park would count as alarms in the summary
    quiet = {"incident_tick_s": 3600, "tick_interval_s": 3600}
    services = build_services(make_settings(tmp_path, **(quiet | settings)), None)
    services.catalog.apply(park_catalog(), "park")
    services.pipeline.reload_catalog()
    return services


def test_the_summary_of_a_park_and_of_an_enterprise(tmp_path):
    services = _park(tmp_path)
    fine = services.orgs.current().by_code("E-FINE").id
    iid = services.incidents.open_by_hand(fine, "reactor runaway", "runaway_reaction", 4, None, "tester").result()
    services.hidden_dangers.report(fine, None, {"title": "guard missing", "grade": "general", "found_by": "daily",
                                                "handling": "on_the_spot"}, "tester")
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        r = client.get(f"{API}/summary", params={"org": "P-CHEM"})
        assert r.status_code == 200, r.text
        doc = Summary.model_validate(r.json())
        assert (doc.format, doc.org) == ("hazwatch-summary/1", "P-CHEM")
        colours = {e.enterprise: e.colour for e in doc.enterprises}
        assert colours == {"E-TANK": "yellow", "E-FINE": "red"}  # level 3 hazards; an urgent incident
        assert {(h.code, h.level) for h in doc.major_hazards} >= {("HS-TANK-A", 3), ("HS-LPG", 3)}
        assert [(i.id, i.enterprise, i.state) for i in doc.incidents] == [(iid, "E-FINE", "reported")]
        assert doc.hidden_dangers.open == 1 and doc.alarms_last_hour.raised == 0
        op = add_user(services, "op-summary", "operator", "E-TANK")
        mine = client.get(f"{API}/summary", headers=op).json()
        assert mine["org"] == "E-TANK" and [e["enterprise"] for e in mine["enterprises"]] == ["E-TANK"]
        assert mine["incidents"] == [] and mine["hidden_dangers"]["open"] == 0
        assert client.get(f"{API}/summary", params={"org": "P-CHEM"}, headers=op).status_code == 404


def test_the_feed_pushes_each_interval_on_the_bus(tmp_path):
    services = _park(tmp_path, feed_interval_s=60, feed_scope_kinds=["park", "enterprise"])
    got = []
    services.bus.subscribe(SUMMARY_PUBLISHED, lambda _s, e: got.append(e))
    assert services.feed.tick() == 3
    assert sorted(e.org for e in got) == ["E-FINE", "E-TANK", "P-CHEM"]
    assert services.feed.tick() == 0  # not before the interval has passed
    assert all(e.summary["format"] == "hazwatch-summary/1" for e in got)


@pytest.mark.services
def test_the_feed_goes_up_through_the_broker_retained(tmp_path):
    require_service("Mosquitto", 1883)
    services = _park(tmp_path, feed_interval_s=60, feed_scope_kinds=["park"], mqtt_url="mqtt://127.0.0.1:1883",
                     mqtt_client_id=f"hz-feed-test-{uuid.uuid4().hex[:8]}")
    assert services.feed.tick() == 1
    # the regulator's side subscribes afterwards and still gets the latest summary: it is retained
    got, arrived = [], threading.Event()
    upper = mqtt.Client(CallbackAPIVersion.VERSION2)
    upper.on_message = lambda _c, _u, msg: (got.append((msg.retain, json.loads(msg.payload))), arrived.set())
    upper.connect("127.0.0.1", 1883)
    upper.subscribe(topic("P-CHEM"), qos=1)
    upper.loop_start()
    try:
        assert arrived.wait(10)
        retained, doc = got[0]
        assert retained and Summary.model_validate(doc).org == "P-CHEM"
    finally:
        upper.loop_stop()
        upper.disconnect()
