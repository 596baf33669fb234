"""Through the API on the demo park: the graded hazard sources, risk points, each enterprise's
colour and why, and the hidden-danger register's lifecycle and overdue warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.sim.park import park_catalog
from tests.conftest import TOKEN, build_services, make_settings
from tests.incidents.helpers import ShiftedClock, add_user

API = "/api/v1"


@pytest.fixture
def park(tmp_path):
    # timers off: the park's sensors are silent here, and STALE faults would colour its enterprises
    services = build_services(make_settings(tmp_path, incident_tick_s=3600, tick_interval_s=3600), None)
    services.catalog.apply(park_catalog(), "park")
    services.pipeline.reload_catalog()
    clock = ShiftedClock()
    services.hidden_dangers.clock = services.risk_points.clock = services.notifier.clock = clock
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield services, client, clock


def _colour(client, enterprise: str, headers=None) -> dict:
    items = client.get(f"{API}/risk/overview", headers=headers).json()["items"]
    return next(i for i in items if i["enterprise"] == enterprise)


def test_evaluate_endpoint_gives_every_term_and_refuses_unknown_substances(park):
    _, client, _ = park
    r = client.post(f"{API}/risk/major-hazard/evaluate", json={
        "substances": [{"name": "chlorine", "quantity_t": 40}, {"cas": "68476-85-7", "quantity_t": 100}],
        "exposed_people": 60})
    assert r.status_code == 200
    body = r.json()
    assert (body["S"], body["R"], body["alpha"], body["is_major_hazard"], body["level"]) == (10, 52.5, 1.5, True, 2)
    assert [t["substance"] for t in body["terms"]] == ["chlorine", "liquefied petroleum gas"]
    r = client.post(f"{API}/risk/major-hazard/evaluate", json={"substances": [{"name": "unobtainium",
                                                                                "quantity_t": 1}]})
    assert r.status_code == 422 and "unobtainium" in r.json()["detail"] and "category" in r.json()["detail"]
    r = client.post(f"{API}/risk/major-hazard/evaluate", json={"substances": [{"quantity_t": 1}]})
    assert r.status_code == 422


def test_the_park_hazard_sources_are_graded_in_scope(park):
    services, client, _ = park
    items = {s["code"]: s for s in client.get(f"{API}/risk/major-hazards").json()["items"]}
    tank = items["HS-TANK-A"]["grading"]
    assert tank["S"] == pytest.approx(28.4) and tank["level"] == 3
    op = add_user(services, "op-fine", "operator", "E-FINE")
    mine = {s["code"] for s in client.get(f"{API}/risk/major-hazards", headers=op).json()["items"]}
    assert mine and all(items[c]["enterprise"] == "E-FINE" for c in mine)


def test_colours_explain_themselves(park):
    services, client, _ = park
    tank = _colour(client, "E-TANK")
    # tank area A (R 42.6) and the LPG spheres (400 t: S 8, R 1.5 × 1.5 × 8 = 18) are level 3 major hazards
    assert tank["colour"] == "yellow"
    assert [(r["source"], r["colour"], r["detail"]) for r in tank["reasons"]] == [
        ("hazard_grade", "yellow", "HS-TANK-A is a level 3 major hazard (R = 42.6)"),
        ("hazard_grade", "yellow", "HS-LPG is a level 3 major hazard (R = 18)")]

    # a risk point assessed red makes the enterprise red, and says so
    r = client.post(f"{API}/risk/points", json={"enterprise": "E-TANK", "hazard_source": "HS-TANK-A",
                                                 "name": "Tank 103 loading arm", "method": "lec", "l": 3, "e": 6,
                                                 "c": 15, "measures": "double block valves"})
    assert r.status_code == 201, r.text
    assert (r.json()["value"], r.json()["colour"]) == (270, "red")
    tank = _colour(client, "E-TANK")
    assert tank["colour"] == "red"
    assert any(x["source"] == "risk_point" and "Tank 103 loading arm" in x["detail"] for x in tank["reasons"])
    # re-assessed after the measures: the point is replaced, and the colour falls back
    r = client.post(f"{API}/risk/points", json={"enterprise": "E-TANK", "name": "Tank 103 loading arm",
                                                 "method": "matrix", "l": 2, "s": 2})
    assert r.json()["colour"] == "yellow"
    assert [p["name"] for p in client.get(f"{API}/risk/points").json()["items"]] == ["Tank 103 loading arm"]
    assert _colour(client, "E-TANK")["colour"] == "yellow"
    r = client.post(f"{API}/risk/points", json={"enterprise": "E-TANK", "name": "x", "method": "lec", "l": 4,
                                                 "e": 6, "c": 15})
    assert r.status_code == 422 and "L = 4 is not in the LEC table" in r.json()["detail"]
    r = client.post(f"{API}/risk/points", json={"enterprise": "E-TANK", "name": "x", "method": "lec", "l": 1})
    assert r.status_code == 422 and "an LEC assessment needs E" in r.json()["detail"]
    r = client.post(f"{API}/risk/points", json={"enterprise": "E-TANK", "name": "x", "method": "matrix", "l": 1})
    assert r.status_code == 422 and "severity = None" in r.json()["detail"]
    r = client.post(f"{API}/risk/points", json={"enterprise": "E-TANK", "hazard_source": "HS-REACT", "name": "x",
                                                 "method": "matrix", "l": 1, "s": 1})
    assert r.status_code == 422 and "not one of this enterprise's" in r.json()["detail"]

    # an open urgent incident
    org = services.orgs.current().by_code("E-FINE").id
    services.incidents.open_by_hand(org, "reactor runaway", "runaway_reaction", 4, None, "tester").result()
    fine = _colour(client, "E-FINE")
    assert fine["colour"] == "red" and any(x["source"] == "incidents" for x in fine["reasons"])


def test_bands_come_from_the_settings(tmp_path):
    services = build_services(make_settings(tmp_path, risk_bands={"lec_red": 100}), None)
    services.catalog.apply(park_catalog(), "park")
    org = services.orgs.current().by_code("E-TANK").id
    point = services.risk_points.assess(org, None, None, "p", "lec", {"l": 0.5, "e": 6, "c": 40}, None, "t")
    assert (point["value"], point["colour"]) == (120, "red")  # orange by SAFETY.md's bands


def test_hidden_danger_lifecycle(park):
    services, client, clock = park
    op = add_user(services, "op-tank", "operator", "E-TANK")
    safety = add_user(services, "safety-tank", "enterprise_admin", "E-TANK")
    deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    r = client.post(f"{API}/hidden-dangers", headers=op, json={
        "enterprise": "E-TANK", "hazard_source": "HS-TANK-A", "title": "Dike drain valve of tank 103 left open",
        "grade": "major", "found_by": "daily", "handling": "by_deadline"})
    assert r.status_code == 201, r.text
    hd = r.json()
    assert (hd["state"], hd["reported_by"]) == ("reported", "op-tank")
    url = f"{API}/hidden-dangers/{hd['id']}/transition"
    # an operator reports but does not manage
    assert client.post(url, headers=op, json={"to": "under_review"}).status_code == 403
    # a major one names its five items first
    r = client.post(url, headers=safety, json={"to": "under_review", "responsible": "Li Wei", "deadline": deadline})
    assert r.status_code == 422
    assert "missing: measures, funding, contingency_plan" in r.json()["detail"]
    assert client.get(f"{API}/hidden-dangers/{hd['id']}").json()["state"] == "reported"
    r = client.post(url, headers=safety, json={"to": "under_review", "responsible": "Li Wei", "deadline": deadline,
                                               "measures": "close and lock the valve; add a limit switch",
                                               "funding": 12000, "contingency_plan": "OS-TANK-A"})
    assert r.status_code == 200 and r.json()["state"] == "under_review"
    for to in ("rectifying", "awaiting_acceptance"):
        assert client.post(url, headers=safety, json={"to": to}).status_code == 200
    # acceptance fails: back to rectifying, then accepted and closed
    r = client.post(url, headers=safety, json={"to": "rectifying", "comment": "limit switch not wired"})
    assert r.json()["state"] == "rectifying"
    r = client.post(url, headers=safety, json={"to": "closed"})
    assert r.status_code == 409 and "can go to awaiting_acceptance, not closed" in r.json()["detail"]
    for to in ("awaiting_acceptance", "accepted", "closed"):
        r = client.post(url, headers=safety, json={"to": to})
        assert r.status_code == 200
    history = [h["kind"] for h in r.json()["history"]]
    assert history.count("rejected") == 1 and history[0] == "reported" and r.json()["closed_at"]
    audit = client.get(f"{API}/audit", params={"action": "hidden_danger.transition"}).json()["items"]
    assert len(audit) == 7


def test_overdue_hidden_dangers_warn_once_and_colour_their_enterprise(park):
    services, client, clock = park
    add_user(services, "safety-fine", "enterprise_admin", "E-FINE")
    deadline = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = client.post(f"{API}/hidden-dangers", json={
        "enterprise": "E-FINE", "title": "Compressor K602 guard missing", "grade": "general", "found_by": "specialist",
        "handling": "by_deadline", "responsible": "Zhao", "deadline": deadline})
    assert r.status_code == 201
    before = _colour(client, "E-FINE")
    assert not any(x["source"] == "hidden_dangers" for x in before["reasons"])
    clock.advance(61)
    assert client.get(f"{API}/hidden-dangers", params={"state": "overdue"}).json()["count"] == 1
    fine = _colour(client, "E-FINE")
    assert {"source": "hidden_dangers", "colour": "orange", "detail": "1 overdue general hidden danger",
            "params": {"count": 1, "grade": "general"}} in fine["reasons"]
    assert services.hidden_dangers.tick() == 1
    assert services.hidden_dangers.tick() == 0  # once
    inbox = services.notifier.inbox(_uid(services, "safety-fine"), unread=True)
    assert [n["subject"] for n in inbox] == [f"Hidden danger #{r.json()['id']} overdue: Compressor K602 guard missing"]


def _uid(services, name: str) -> int:
    from hazwatch.auth import Scope

    return next(u["id"] for u in services.users.list(Scope(None)) if u["username"] == name)
