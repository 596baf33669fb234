"""The tank-farm pack at work: applied to an empty enterprise, with its voting group placed on the
detectors the simulated field leaks gas at, the field drives the pack's two-out-of-three rule to
an urgent alarm, and the pack's triggers open an incident holding that alarm, with the tasks of the
pack's leak plan."""

from __future__ import annotations

import time

import numpy as np
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.normalize import RawBatch
from hazwatch.packs import apply, find
from hazwatch.sim.plant import ParkSimulator
from tests.conftest import TOKEN, build_services, eventually, make_settings
from tests.packs.test_packs import EMPTY

API = "/api/v1"
# the simulator's leak ramps up at GT305 and reaches its neighbours GT304 and GT306
FIELD = {"combustible_detectors": ["GT304", "GT305", "GT306"],
         "voting_groups": [{"group": "A", "a": "GT304", "b": "GT305", "c": "GT306"}]}


def test_the_field_drives_the_packs_rule_to_an_alarm_and_an_incident_with_the_packs_plan(tmp_path):
    services = build_services(make_settings(tmp_path, incident_tick_s=3600), None)
    services.catalog.apply(EMPTY)
    rendered, _ = apply(services.catalog, find("tank-farm"), "E1", FIELD)
    services.pipeline.reload_catalog()
    sim = ParkSimulator(services.catalog.export())
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        t0 = time.time() - 120
        for k in range(60):  # the field's first minute, one reading a second per sensor: the leak at its peak
            tags, ts, values, quality = sim.step(float(k), int((t0 + k) * 1e6))
            services.pipeline.ingest(RawBatch(tags, services.index.lookup(tags), ts, values, quality)).result()

        def rule_alarm():
            return [a for a in client.get(f"{API}/alarms").json()["items"]
                    if a["condition"] == "RULE" and a.get("rule") == "E1-GDS-2OO3-A"]

        alarms = eventually(rule_alarm)
        assert alarms and alarms[0]["priority"] == "urgent" and alarms[0]["state"] == "active_unacknowledged"
        services.incidents.tick()
        # the pack's triggers open one incident for the area (GT305 at level 2 gets there first), and
        # the rule's alarm is part of it
        items = client.get(f"{API}/incidents").json()["items"]
        assert [i["trigger"] for i in items] in (["E1-TR-GAS"], ["E1-TR-VOTE"]), items
        incident = client.get(f"{API}/incidents/{items[0]['id']}").json()
        assert alarms[0]["id"] in [a["alarm"] for a in incident["alarms"]]
        assert incident["hazard_type"] == "toxic_release" and "E1-SP-LEAK" in incident["plans"]
        plan = next(p for p in rendered.doc.plans if p.code == "E1-SP-LEAK")
        assert [s.title for s in plan.steps] == [t["title"] for t in incident["tasks"] if t["plan"] == "E1-SP-LEAK"]


def test_two_packs_on_one_enterprise_each_answer_their_own_incidents(tmp_path):
    """The casting shop and the dust collectors of one works: cooling water lost while casting
    (a rule over the well's sensors) opens an explosion incident at the casting shop, which takes
    the casting pack's procedure and not the dust pack's explosion plan, though both answer
    explosions."""
    services = build_services(make_settings(tmp_path, incident_tick_s=3600), None)
    services.catalog.apply(EMPTY)
    apply(services.catalog, find("dust-explosion"), "E1", {})
    apply(services.catalog, find("deep-well-casting"), "E1", {})
    services.pipeline.reload_catalog()
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        tags = ["W1-XS-CAST", "W1-FT-CW", "W1-PT-CW"]
        t0 = int(time.time()) - 60
        for k in range(10):  # casting; the flow falls below LL from the fifth second
            values = np.array([1.0, 400.0 if k < 5 else 100.0, 0.3])
            ts = np.full(len(tags), (t0 + k) * 1_000_000, np.int64)
            services.pipeline.ingest(RawBatch(tags, services.index.lookup(tags), ts, values,
                                              np.zeros(len(tags), np.uint8))).result()
        assert eventually(lambda: [a for a in client.get(f"{API}/alarms").json()["items"]
                                   if a.get("rule") == "E1-W1-CW-LOST"])
        services.incidents.tick()
        [incident] = client.get(f"{API}/incidents").json()["items"]
        incident = client.get(f"{API}/incidents/{incident['id']}").json()
        assert incident["trigger"] == "E1-TR-CW-LOST" and incident["hazard_type"] == "explosion"
        assert incident["plans"] == ["E1-W1-OS-CW"], incident["plans"]
