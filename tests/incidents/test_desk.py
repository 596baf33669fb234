"""The incident desk: which plans an incident takes, the state machine, refusal of unconfirmed or
unauthorized interlock writes, and timers (escalation, reporting clocks) that survive a restart."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.schema import CatalogDoc, EndpointDoc, PlanDoc, TierDoc, TriggerDoc
from hazwatch.domain.errors import Conflict
from hazwatch.incidents import plans as P
from hazwatch.sim.park import park_catalog
from tests.conftest import TOKEN, build_services, eventually, make_settings
from tests.incidents.helpers import ShiftedClock, add_user

API = "/api/v1"


class RecordingWriter:
    """Stands where the protocol adapters are: every write that reaches the plant lands here."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, float]] = []
        self.plant: dict[str, float] = {}

    async def write(self, target: str, value: float) -> float | None:
        self.writes.append((target, value))
        self.plant[target] = value
        return value


def _doc(second_person: bool = False, tiers=None) -> CatalogDoc:
    doc = park_catalog()
    plan = PlanDoc.model_validate({
        "code": "SP-FIRE", "name": "Fire", "layer": "specific", "org": "E-TANK", "hazard_types": ["fire"],
        "tiers": tiers or [], "steps": [
            {"title": "Start the deluge on tank area A", "role": "supervisor", "due_min": 5,
             "interlock": {"target": "modbus://127.0.0.1:5020/1/40", "value": 1, "second_person": second_person}}]})
    plc = EndpointDoc(code="PLC-TANK-A", name="Tank area A PLC", org="E-TANK", address="modbus://127.0.0.1:5020")
    return doc.model_copy(update={"plans": doc.plans + [plan], "endpoints": [plc]})


@pytest.fixture
def park(tmp_path):
    def make(doc: CatalogDoc | None = None, data=None):
        settings = make_settings(data or tmp_path, incident_tick_s=3600)
        services = build_services(settings, None)
        if doc is not None:
            services.catalog.apply(doc, "park")
            services.pipeline.reload_catalog()
        clock = ShiftedClock()
        services.incidents.clock = services.notifier.clock = clock
        services.incidents.writer = RecordingWriter()
        return services, clock
    return make


def _open(services, hazard_type="fire", location="HS-TANK-A") -> int:
    org = services.orgs.current().by_code("E-TANK").id
    return services.incidents.open_by_hand(org, "tank fire", hazard_type, 3, location, "tester").result()


# -- plans ------------------------------------------------------------------------------------------------
def test_an_incident_takes_general_specific_and_onsite_plans_most_specific_first():
    doc = park_catalog()
    ids = {o.code: i for i, o in enumerate(doc.orgs)}
    plans = [(ids[p.org], p) for p in doc.plans]
    where = P.Where(frozenset({ids["E-TANK"], ids["P-CHEM"], ids["R-JS"]}), frozenset({"HS-TANK-A"}))
    chosen = [p.code for p in P.select(plans, "toxic_release", where)]
    assert chosen == ["OS-TANK-A", "SP-TOXIC", "GP-PARK"]
    assert [p.code for p in P.select(plans, "overfill", P.Where(where.orgs, frozenset({"HS-LPG"})))] == \
        ["SP-OVERFILL", "GP-PARK"]
    # another enterprise's on-site procedure and plans of orgs elsewhere do not apply
    fine = P.Where(frozenset({ids["E-FINE"], ids["P-CHEM"], ids["R-JS"]}), frozenset({"HS-TANK-A"}))
    assert "OS-TANK-A" not in [p.code for p in P.select(plans, "fire", fine)]
    assert P.ladder(P.select(plans, "fire", where)) == list(P.DEFAULT_TIERS)



def test_a_specific_plan_that_names_locations_applies_only_there():
    doc = park_catalog()
    ids = {o.code: i for i, o in enumerate(doc.orgs)}
    local = PlanDoc(code="SP-LPG-FIRE", name="LPG sphere fire", layer="specific", org="E-TANK",
                    hazard_types=["fire"], locations=["HS-LPG"])
    plans = [(ids[p.org], p) for p in [*doc.plans, local]]
    orgs = frozenset({ids["E-TANK"], ids["P-CHEM"], ids["R-JS"]})
    assert "SP-LPG-FIRE" in [p.code for p in P.select(plans, "fire", P.Where(orgs, frozenset({"HS-LPG"})))]
    assert "SP-LPG-FIRE" not in [p.code for p in P.select(plans, "fire", P.Where(orgs, frozenset({"HS-TANK-A"})))]
    assert "SP-LPG-FIRE" not in [p.code for p in P.select(plans, "fire", P.Where(orgs, frozenset()))]


@pytest.mark.parametrize("plan, problem", [
    ({"layer": "specific"}, "names the hazard_types"),
    ({"layer": "onsite"}, "names its locations"),
    ({"layer": "general", "hazard_types": ["fire"]}, "no hazard_types or locations"),
    ({"layer": "specific", "hazard_types": ["flood"]}, "hazard_types.0"),
    ({"layer": "general", "steps": [{"title": "x", "due_min": 5, "interlock": {"target": "modbus://h:502/1/7",
                                                                               "value": 2.5}}]},
     "integer 0..65535"),
    ({"layer": "general", "steps": [{"title": "x", "due_min": 5, "interlock": {"target": "ftp://h/x", "value": 1}}]},
     "target"),
])
def test_plans_are_validated_at_import(plan, problem):
    with pytest.raises(ValueError, match=problem):
        PlanDoc.model_validate({"code": "P1", "name": "p", "org": "E-TANK", **plan})


def test_catalog_refuses_unknown_orgs_locations_rules_and_units(park):
    services, _ = park(park_catalog())
    doc = CatalogDoc(plans=[PlanDoc(code="OS-X", name="x", layer="onsite", org="E-NOPE", locations=["HS-NOPE"])],
                     incident_triggers=[TriggerDoc(code="T-X", name="x", org="E-TANK", conditions=["RULE"],
                                                   rule="NO-RULE", unit="NO-UNIT", locations=["HS-NOPE"])])
    with pytest.raises(CatalogError) as e:
        services.catalog.apply(doc, "bad.yaml")
    text = "\n".join(e.value.problems)
    for part in ("plans[0].org: unknown org 'E-NOPE'", "plans[0].locations[0]", "incident_triggers[0].rule",
                 "incident_triggers[0].unit", "incident_triggers[0].locations[0]: 'HS-NOPE' is neither"):
        assert part in text
    exported = services.catalog.export()
    assert {p.code for p in exported.plans} == {p.code for p in park_catalog().plans}
    assert {t.code for t in exported.incident_triggers} == {t.code for t in park_catalog().incident_triggers}


# -- states ------------------------------------------------------------------------------------------------
def test_states_move_forward_only_and_each_change_lands_on_the_timeline(park):
    services, _ = park(_doc())
    desk = services.incidents
    iid = _open(services)
    with pytest.raises(Conflict, match="can go to assessing, cancelled, not closed"):
        desk.transition(iid, "closed", actor="op", comment=None).result()
    for to in ("assessing", "responding", "contained"):
        desk.transition(iid, to, actor="op", comment=f"now {to}").result()
    desk.transition(iid, "cancelled", actor="sup", comment="false alarm").result()
    with pytest.raises(Conflict, match="has ended"):
        desk.acknowledge(iid, actor="op", comment=None).result()
    d = desk.detail(iid)
    states = [(e["actor"], e["detail"]) for e in d["timeline"] if e["kind"] == "state"]
    assert states == [("op", "reported → assessing: now assessing"), ("op", "assessing → responding: now responding"),
                      ("op", "responding → contained: now contained"), ("sup", "contained → cancelled: false alarm")]
    assert d["acknowledged_by"] == "op" and d["clocks"][0]["status"] == "stopped"
    assert d["interlocks"][0]["state"] == "cancelled"


def test_a_report_that_cannot_be_written_does_not_undo_the_close(park, tmp_path):
    services, _ = park(_doc())
    desk = services.incidents
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    desk.reports_dir = blocker / "reports"
    iid = _open(services)
    for to in ("assessing", "responding", "contained", "closed"):
        desk.transition(iid, to, actor="sup", comment=None).result()
    d = desk.detail(iid)
    assert d["state"] == "closed"
    assert d["timeline"][-1]["kind"] == "report_failed" and "not written" in d["timeline"][-1]["detail"]


# -- interlocks ------------------------------------------------------------------------------------------
def test_nothing_is_written_without_the_confirmations_the_plan_asks_for(park):
    services, _ = park(_doc(second_person=True))
    writer = services.incidents.writer
    park_admin = add_user(services, "park-a", "park_admin", "P-CHEM")
    regulator = add_user(services, "reg-a", "regulator", "R-JS")
    viewer = add_user(services, "view-a", "viewer", "E-TANK")
    sup1 = add_user(services, "sup-a", "supervisor", "E-TANK")
    sup2 = add_user(services, "sup-b", "supervisor", "E-TANK")
    fine = add_user(services, "sup-fine", "supervisor", "E-FINE")
    iid = _open(services)
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        lock = client.get(f"{API}/incidents/{iid}").json()["interlocks"][0]
        assert lock["state"] == "requested" and lock["second_person"]
        url = f"{API}/incidents/{iid}/interlocks/{lock['id']}/confirm"
        for outsider in (park_admin, regulator, viewer):  # they see the incident, but may not write to the plant
            assert client.post(url, headers=outsider).status_code == 403
        assert client.post(url, headers=fine).status_code == 404  # another enterprise's incident
        assert writer.writes == []
        r = client.post(url, headers=sup1)
        assert r.status_code == 200 and r.json()["interlocks"][0]["state"] == "confirmed"
        assert writer.writes == []  # one confirmation of two
        r = client.post(url, headers=sup1)
        assert r.status_code == 409 and "second person" in r.json()["detail"]
        assert writer.writes == []
        r = client.post(url, headers=sup2)
        assert r.status_code == 200
        done = r.json()["interlocks"][0]
        assert (done["state"], done["confirmed_by"], done["second_by"], done["readback"]) == \
            ("written", "sup-a", "sup-b", 1.0)
        assert writer.writes == [("modbus://127.0.0.1:5020/1/40", 1.0)]
        assert client.post(url, headers=sup2).status_code == 409  # written once, never again
        assert len(writer.writes) == 1
        audit = client.get(f"{API}/audit", params={"action": "interlock.confirm"}).json()["items"]
        assert sorted(a["actor"] for a in audit) == ["sup-a", "sup-b"]


def test_a_failed_write_is_tried_again_only_on_a_fresh_confirmation(park):
    services, _ = park(_doc())
    desk = services.incidents
    calls = []

    class Flaky(RecordingWriter):
        async def write(self, target, value):
            calls.append(value)
            if len(calls) == 1:
                raise ConnectionError("PLC busy")
            return value

    desk.writer = Flaky()
    iid = _open(services)
    lock = desk.detail(iid)["interlocks"][0]
    desk.confirm_interlock(iid, lock["id"], actor="sup").result()
    assert desk.detail(iid)["interlocks"][0]["state"] == "failed" and calls == [1.0]
    desk.tick()
    assert calls == [1.0]  # nothing retries by itself
    desk.confirm_interlock(iid, lock["id"], actor="sup").result()
    done = desk.detail(iid)["interlocks"][0]
    assert (done["state"], done["readback"], done["error"]) == ("written", 1.0, None) and calls == [1.0, 1.0]
    with pytest.raises(Conflict, match="is written"):
        desk.confirm_interlock(iid, lock["id"], actor="sup").result()


def test_a_closed_incident_writes_nothing(park):
    services, _ = park(_doc())
    desk = services.incidents
    iid = _open(services)
    lock = desk.detail(iid)["interlocks"][0]
    desk.transition(iid, "cancelled", actor="sup", comment=None).result()
    with pytest.raises(Conflict, match="has ended"):
        desk.confirm_interlock(iid, lock["id"], actor="sup").result()
    assert desk.writer.writes == []


def test_a_failed_write_or_a_mismatched_readback_is_recorded(park):
    services, _ = park(_doc())
    desk = services.incidents

    class Stuck(RecordingWriter):
        async def write(self, target, value):
            return 0.0  # the valve did not move

    class Down(RecordingWriter):
        async def write(self, target, value):
            raise ConnectionError("no route to PLC")

    for writer, state, phrase in ((Stuck(), "mismatch", "MISMATCH"), (Down(), "failed", "no route to PLC")):
        desk.writer = writer
        iid = _open(services)
        lock = desk.detail(iid)["interlocks"][0]
        desk.confirm_interlock(iid, lock["id"], actor="sup").result()
        d = desk.detail(iid)
        assert d["interlocks"][0]["state"] == state
        assert phrase in d["timeline"][-1]["detail"]


# -- timers and restarts ---------------------------------------------------------------------------------------
def test_escalation_and_reporting_clocks_survive_a_restart(park, tmp_path):
    tiers = [TierDoc(name="duty operator", role="operator", minutes=5),
             TierDoc(name="shift supervisor", role="supervisor", minutes=10)]
    services, clock = park(_doc(tiers=tiers))
    add_user(services, "sup-a", "supervisor", "E-TANK")
    iid = _open(services)
    services.incidents.tick()
    assert services.incidents.detail(iid)["tier"] == "duty operator"
    services.store.close()
    del services

    # the server is down for 50 minutes: the escalation deadline and the report warning pass
    again, clock2 = park(data=tmp_path)
    clock2.offset_us = clock.offset_us
    clock2.advance(50)
    desk = again.incidents
    desk.tick()
    d = desk.detail(iid)
    assert d["tier"] == "shift supervisor"
    kinds = [e["kind"] for e in d["timeline"]]
    assert "escalated" in kinds and "clock_warning" in kinds and "clock_overdue" not in kinds
    assert d["clocks"][0]["status"] == "warning" and 0 < d["clocks"][0]["remaining_s"] <= 15 * 60
    assert any(n["subject"].startswith(f"Incident #{iid} unacknowledged") for n in d["notifications"])
    desk.tick()  # due work is done once
    assert [e["kind"] for e in desk.detail(iid)["timeline"]].count("escalated") == 1

    clock2.advance(11)
    desk.tick()
    d = desk.detail(iid)
    assert d["clocks"][0]["status"] == "overdue"
    desk.report_made(iid, "county", actor="safety").result()
    d = desk.detail(iid)
    assert [c["level"] for c in d["clocks"]] == ["county", "city"]
    assert d["clocks"][0]["status"] == "reported" and d["clocks"][1]["status"] == "running"
    assert any(e["kind"] == "reported" and "(late)" in e["detail"] for e in d["timeline"])
    with pytest.raises(Conflict, match="was recorded"):
        desk.report_made(iid, "county", actor="safety").result()


def test_the_live_desk_opens_an_incident_from_a_detector_alarm_only_once_it_has_held(park):
    doc = park_catalog()
    hold = TriggerDoc(code="TR-HOLD", name="held high level", org="P-CHEM", conditions=["HH"], hold_s=120,
                      sensor_kinds=["level"])
    services, clock = park(doc.model_copy(update={"incident_triggers": [hold]}))
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        r = client.post(f"{API}/telemetry", json={"sensor": ["TK103-LT"], "ts": [time.time()], "value": [19.9]})
        assert r.status_code == 200
        assert eventually(lambda: [a for a in client.get(f"{API}/alarms").json()["items"]
                                   if a["sensor"] == "TK103-LT" and a["condition"] == "HH"])
        services.incidents.tick()
        assert client.get(f"{API}/incidents").json()["count"] == 0
        clock.advance(2.5)
        services.incidents.tick()
        items = client.get(f"{API}/incidents").json()["items"]
        assert [(i["trigger"], i["hazard_type"]) for i in items] == [("TR-HOLD", "overfill")]
        assert "SP-OVERFILL" in items[0]["plans"]


@pytest.mark.services
def test_the_desk_on_postgresql(pg_database, tmp_path):
    settings = make_settings(tmp_path, database_url=pg_database, incident_tick_s=3600)
    services = build_services(settings, None)
    try:
        services.catalog.apply(_doc(second_person=False), "park")
        services.pipeline.reload_catalog()
        clock = ShiftedClock()
        desk = services.incidents
        desk.clock = services.notifier.clock = clock
        desk.writer = RecordingWriter()
        add_user(services, "sup-pg", "supervisor", "E-TANK")
        iid = _open(services)
        clock.advance(6)
        desk.tick()
        assert desk.detail(iid)["tier"] == "shift supervisor"
        lock = desk.detail(iid)["interlocks"][0]
        desk.confirm_interlock(iid, lock["id"], actor="sup-pg").result()
        for to in ("assessing", "responding", "contained", "closed"):
            desk.transition(iid, to, actor="sup-pg", comment=None).result()
        d = desk.detail(iid)
        assert d["state"] == "closed" and d["interlocks"][0]["state"] == "written"
        assert any(n["subject"].startswith(f"Incident #{iid} unacknowledged") for n in d["notifications"])
        assert all(p.exists() for p in desk.report_paths(iid))
        assert [i["id"] for i in desk.list(None, "closed")] == [iid]
    finally:
        services.store.close()
        services.engine.dispose()


def test_a_target_whose_endpoint_moved_to_another_enterprise_is_never_written(park):
    """The endpoint is checked again when the write happens: one that an administrator has since
    given to another enterprise is refused, and nothing reaches the plant."""
    services, _ = park(_doc())
    writer = services.incidents.writer
    sup = add_user(services, "sup-moved", "supervisor", "E-TANK")
    iid = _open(services)
    moved = EndpointDoc(code="PLC-TANK-A", name="now the fine-chemicals PLC", org="E-FINE",
                        address="modbus://127.0.0.1:5020")
    services.catalog.apply(CatalogDoc(endpoints=[moved]), "admin")
    services.pipeline.reload_catalog()  # as a running server does on its next catalog check
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        lock = client.get(f"{API}/incidents/{iid}").json()["interlocks"][0]
        r = client.post(f"{API}/incidents/{iid}/interlocks/{lock['id']}/confirm", headers=sup)
        done = r.json()["interlocks"][0]
        assert done["state"] == "failed" and "not at a field endpoint" in done["error"]
        assert writer.writes == []
