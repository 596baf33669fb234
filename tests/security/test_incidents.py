"""An enterprise cannot open an incident at another enterprise's hazard source, and an alarm never
joins another tenant's incident: the owner's own incident still opens, with its own plan and its
own escalation ladder, while the neighbour tries."""

from __future__ import annotations

import json
import time

from sqlalchemy import insert, select

from hazwatch.catalog.models import HazardSource, Org
from hazwatch.incidents.models import Incident
from tests.conftest import eventually


def test_a_foreign_hazard_source_reads_as_an_unknown_location(server):
    answers = set()
    with server.client("op-EA1") as c:
        for loc in ("HS-EA2", "HS-EB1", "D2-EA2", "HS-NONE"):
            r = c.post("/incidents", json={"enterprise": "EA1", "title": "drill", "hazard_type": "other",
                                           "location": loc})
            answers.add((r.status_code, json.dumps(r.json()).replace(loc, "<LOC>")))
        assert len(answers) == 1 and next(iter(answers))[0] == 422, answers
        own = c.post("/incidents", json={"enterprise": "EA1", "title": "drill", "hazard_type": "other",
                                         "location": "HS-EA1"})
        assert own.status_code == 201 and own.json()["location"] == "HS-EA1"


def test_the_owners_incident_opens_while_a_neighbours_sits_at_its_hazard_source(server):
    services = server.services
    with services.engine.begin() as conn:  # an EA1 incident placed at EA2's tank area (as an old server let it)
        ea1 = conn.scalar(select(Org.id).where(Org.code == "EA1"))
        hs = conn.scalar(select(HazardSource.id).where(HazardSource.code == "HS-EA2"))
        now = time.time_ns() // 1000
        hijack = conn.execute(insert(Incident).values(
            org_id=ea1, hazard_source_id=hs, location="HS-EA2", hazard_type="other", title="hijack",
            state="reported", priority=3, plans=[], tiers=[], tier=0, opened_at=now, opened_by="op-EA1")
        ).inserted_primary_key[0]
    with server.client() as admin:
        r = admin.post("/telemetry", json={"sensor": ["T2-EA2"], "ts": [time.time()], "value": [80.0]})
        assert r.status_code == 200 and r.json()["accepted"] == 1
    with server.client("viewer-EA2") as owner:
        def opened():
            items = [i for i in owner.get("/incidents").json()["items"] if i["location"] == "HS-EA2"]
            return items[0] if items else None

        mine = eventually(opened, 15)
        assert mine, "the owner's incident did not open"
        detail = owner.get(f"/incidents/{mine['id']}").json()
        assert mine["id"] != hijack and mine["enterprise"] == "EA2"
        assert [a["sensor"] for a in detail["alarms"]] == ["T2-EA2"]
        assert "GP-EA1" not in detail["plans"] and "GP-EA2" in detail["plans"]  # its own plans, not the neighbour's
        assert detail["escalate_at"] is not None and detail["tiers"]  # and its escalation ladder runs
    with server.client("op-EA1") as neighbour:
        stolen = neighbour.get(f"/incidents/{hijack}").json()
        assert stolen["alarms"] == [], "an EA2 alarm joined EA1's incident"
        assert "T2-EA2" not in json.dumps(stolen)
