"""Every route, walked by users of two sibling enterprises, two sibling parks and the regulator
above them: nothing outside a user's scope is read or changed, out-of-scope objects answer 404,
and the regulator sees both parks (the cases: here and in walk_cases.py). A route added without a case fails
test_every_route_is_walked, so the walk stays complete."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from hazwatch.auth import roles as R
from tests.auth import walk_cases  # noqa: F401 - registers the second half of the cases
from tests.auth.conftest import WALKERS
from tests.auth.routes import app_routes
from tests.auth.walk import API, CASES, admin_view, case, expect, may, sees
from tests.auth.world import SENSOR_ORG, SUBTREE, World


# -- sensors and telemetry --------------------------------------------------------------------------------
@case("GET", "/sensors")
def _(w, user):
    r = w.client.get(f"{API}/sensors", headers=w.headers(user))
    assert r.status_code == 200
    tags = {s["tag"] for s in r.json()["items"]}
    assert tags == {t for t, o in SENSOR_ORG.items() if sees(w, user, o)}


@case("GET", "/sensors/{tag}")
def _(w, user):
    for tag, org in SENSOR_ORG.items():
        r = w.client.get(f"{API}/sensors/{tag}", headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, org), ok=(200,))
        if r.status_code == 404:
            assert tag not in r.text or "not found" in r.text


@case("GET", "/sensors/{tag}/series")
def _(w, user):
    for tag, org in SENSOR_ORG.items():
        r = w.client.get(f"{API}/sensors/{tag}/series", headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, org), ok=(200,))
        if r.status_code == 200:
            assert 60.0 in r.json()["value"]


@case("POST", "/telemetry")
def _(w, user):
    for tag, org in SENSOR_ORG.items():
        before = admin_view(w, f"{API}/sensors/{tag}/series")[1]["value"]
        r = w.client.post(f"{API}/telemetry", json={"sensor": [tag], "ts": [time.time()], "value": [61.0]},
                          headers=w.headers(user))
        after = admin_view(w, f"{API}/sensors/{tag}/series")[1]["value"]
        if not may(user, R.TELEMETRY_WRITE):
            assert r.status_code == 403
            assert after == before
        elif sees(w, user, org):
            assert r.json()["accepted"] == 1 and len(after) == len(before) + 1
        else:
            assert r.json() == {"accepted": 0, "rejected": [{"index": 0, "sensor": tag, "reason": "unknown sensor"}]}
            assert after == before


# -- alarms -------------------------------------------------------------------------------------------------
@case("GET", "/alarms")
def _(w, user):
    r = w.client.get(f"{API}/alarms", params={"state": "all"}, headers=w.headers(user))
    assert r.status_code == 200
    assert {a["sensor"] for a in r.json()["items"]} == {t for t, o in SENSOR_ORG.items() if sees(w, user, o)}


@case("GET", "/alarms/{alarm_id}")
def _(w, user):
    for tag, aid in w.alarm_id.items():
        r = w.client.get(f"{API}/alarms/{aid}", headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, SENSOR_ORG[tag]), ok=(200,))


@case("GET", "/alarms/{alarm_id}/journal")
def _(w, user):
    for tag, aid in w.alarm_id.items():
        r = w.client.get(f"{API}/alarms/{aid}/journal", headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, SENSOR_ORG[tag]), ok=(200,))
        if r.status_code == 200:
            assert r.json()["items"][0]["event"] == "raised"


@case("GET", "/floods")
def _(w, user):
    from sqlalchemy import insert

    from hazwatch.alarms.models import AlarmFlood

    if not getattr(w, "floods_made", False):  # one ongoing flood per enterprise of the world
        with w.services.engine.begin() as conn:
            for org in ("EA1", "EA2", "EB1"):
                conn.execute(insert(AlarmFlood).values(org_id=w.org_id[org], started_at=int(time.time() * 1e6),
                                                       alarms=12, peak=11))
        w.floods_made = True
    r = w.client.get(f"{API}/floods", headers=w.headers(user))
    assert r.status_code == 200
    assert {f["enterprise"] for f in r.json()["items"]} == {o for o in ("EA1", "EA2", "EB1") if sees(w, user, o)}


def alarm_write(action: str, body: dict | None, permission: str):
    def check(w: World, user: str) -> None:
        for tag, aid in w.alarm_id.items():
            before = admin_view(w, f"{API}/alarms/{aid}/journal")
            r = w.client.post(f"{API}/alarms/{aid}/{action}", json=body, headers=w.headers(user))
            visible = sees(w, user, SENSOR_ORG[tag])
            expect(r, user, permission, visible)
            if not (visible and may(user, permission)):
                assert admin_view(w, f"{API}/alarms/{aid}/journal") == before
    return check


for _action, _body, _perm in (("ack", {}, R.ALARM_OPERATE), ("shelve", {"minutes": 5, "reason": "walk"},
                                                                R.ALARM_OPERATE),
                              ("unshelve", {}, R.ALARM_OPERATE), ("suppress", {}, R.ALARM_ENGINEER),
                              ("unsuppress", {}, R.ALARM_ENGINEER), ("out-of-service", {}, R.ALARM_ENGINEER),
                              ("in-service", {}, R.ALARM_ENGINEER), ("comments", {"text": "seen"}, R.ANNOTATE)):
    case("POST", f"/alarms/{{alarm_id}}/{_action}")(alarm_write(_action, _body, _perm))


# -- incidents and notifications ------------------------------------------------------------------------------
INCIDENT_ORGS = ("EA1", "EA2", "EB1")


@case("GET", "/incidents")
def _(w, user):
    r = w.client.get(f"{API}/incidents", headers=w.headers(user))
    assert r.status_code == 200
    seen = {i["enterprise"] for i in r.json()["items"]}
    assert seen == {o for o in INCIDENT_ORGS if sees(w, user, o)}


@case("POST", "/incidents")
def _(w, user):
    for org in INCIDENT_ORGS:
        count = len(w.client.get(f"{API}/incidents").json()["items"])
        r = w.client.post(f"{API}/incidents", json={"enterprise": org, "title": f"by {user}", "hazard_type": "fire"},
                          headers=w.headers(user))
        expect(r, user, R.INCIDENT_RESPOND, sees(w, user, org), ok=(201,))
        if r.status_code != 201:
            assert len(w.client.get(f"{API}/incidents").json()["items"]) == count


@case("GET", "/incidents/{incident_id}")
def _(w, user):
    for org, iid in w.incident_id.items():
        r = w.client.get(f"{API}/incidents/{iid}", headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, org), ok=(200,))


def incident_report(kind: str):
    def check(w: World, user: str) -> None:
        for org, iid in w.incident_id.items():
            r = w.client.get(f"{API}/incidents/{iid}/report.{kind}", headers=w.headers(user))
            assert r.status_code == 404
            # in scope: the report is not written yet; outside: the incident does not exist
            assert ("no close-out report yet" in r.text) == sees(w, user, org), (user, org, r.text)
    return check


for _kind in ("pdf", "html"):
    case("GET", f"/incidents/{{incident_id}}/report.{_kind}")(incident_report(_kind))


def incident_view(w: World, iid: int) -> dict:
    """The incident as the admin sees it, less the clocks' countdown (which moves by itself)."""
    d = w.client.get(f"{API}/incidents/{iid}").json()
    return d | {"clocks": [{k: v for k, v in c.items() if k not in ("remaining_s", "status")} for c in d["clocks"]]}


def incident_write(path: Callable[[World, str], str], body: dict | None, permission: str):
    def check(w: World, user: str) -> None:
        for org, iid in w.incident_id.items():
            before = incident_view(w, iid)
            r = w.client.post(f"{API}/incidents/{iid}{path(w, org)}", json=body, headers=w.headers(user))
            visible = sees(w, user, org)
            expect(r, user, permission, visible)
            if not (visible and may(user, permission)):
                assert incident_view(w, iid) == before
    return check


for _path, _url, _body, _perm in (
        ("/transition", lambda w, o: "/transition", {"to": "assessing"}, R.INCIDENT_RESPOND),
        ("/ack", lambda w, o: "/ack", {}, R.INCIDENT_RESPOND),
        ("/comments", lambda w, o: "/comments", {"text": "walk"}, R.ANNOTATE),
        ("/reports", lambda w, o: "/reports", {"level": "county"}, R.INCIDENT_RESPOND),
        ("/tasks/{task_id}/ack", lambda w, o: f"/tasks/{w.task_id[o]}/ack", {}, R.INCIDENT_RESPOND),
        ("/tasks/{task_id}/done", lambda w, o: f"/tasks/{w.task_id[o]}/done", {}, R.INCIDENT_RESPOND),
        ("/interlocks/{interlock_id}/confirm", lambda w, o: f"/interlocks/{w.interlock_id[o]}/confirm", None,
         R.INTERLOCK_CONFIRM)):
    case("POST", f"/incidents/{{incident_id}}{_path}")(incident_write(_url, _body, _perm))


def _notify_walkers(w: World) -> None:
    from hazwatch.domain.limits import Priority

    with w.services.engine.begin() as conn:
        w.services.notifier.enqueue(conn, [(w.user_id[u], u) for u in WALKERS], "walk", "walk message",
                                    int(Priority.HIGH), None, w.services.pipeline.clock.now_us())


@case("GET", "/notifications")
def _(w, user):
    _notify_walkers(w)
    r = w.client.get(f"{API}/notifications", headers=w.headers(user))
    assert r.status_code == 200
    mine = r.json()["items"]
    assert mine and all(n["channel"] == "in_app" for n in mine)
    others = {n["id"] for u in WALKERS if u != user
              for n in w.client.get(f"{API}/notifications", headers=w.headers(u)).json()["items"]}
    assert not others & {n["id"] for n in mine}


@case("POST", "/notifications/{notification_id}/read")
def _(w, user):
    _notify_walkers(w)
    for other in WALKERS:
        ids = [n["id"] for n in w.client.get(f"{API}/notifications", headers=w.headers(other)).json()["items"]]
        r = w.client.post(f"{API}/notifications/{ids[0]}/read", headers=w.headers(user))
        assert r.status_code == (200 if other == user else 404), (user, other, r.text)
        if other != user:  # nothing changed for its owner
            again = w.client.get(f"{API}/notifications", headers=w.headers(other)).json()["items"]
            assert next(n for n in again if n["id"] == ids[0])["read_at"] is None


@case("GET", "/me/notification-preferences")
def _(w, user):
    r = w.client.get(f"{API}/me/notification-preferences", headers=w.headers(user))
    assert r.status_code == 200
    assert r.json()["email"] in (None, f"{user}@example.com")


@case("PUT", "/me/notification-preferences")
def _(w, user):
    prefs = {"channels": ["in_app", "email"], "email": f"{user}@example.com", "min_priority": "high"}
    r = w.client.put(f"{API}/me/notification-preferences", json=prefs, headers=w.headers(user))
    assert r.status_code == 200 and r.json()["email"] == f"{user}@example.com"
    for other in WALKERS:  # everyone else keeps their own
        got = w.client.get(f"{API}/me/notification-preferences", headers=w.headers(other)).json()
        assert got["email"] in (None, f"{other}@example.com")


# -- evaluation --------------------------------------------------------------------------------------------------
@case("POST", "/risk/major-hazard/evaluate")
def _(w, user):
    r = w.client.post(f"{API}/risk/major-hazard/evaluate",
                      json={"substances": [{"name": "chlorine", "quantity_t": 10}]}, headers=w.headers(user))
    assert r.status_code == 200 and r.json()["S"] == 2


@case("GET", "/risk/major-hazards")
def _(w, user):
    r = w.client.get(f"{API}/risk/major-hazards", headers=w.headers(user))
    assert r.status_code == 200
    assert all(sees(w, user, s["enterprise"]) for s in r.json()["items"])


@case("GET", "/risk/overview")
def _(w, user):
    r = w.client.get(f"{API}/risk/overview", headers=w.headers(user))
    assert r.status_code == 200
    got = {e["enterprise"] for e in r.json()["items"]}  # enterprises made during the walk may be among them
    assert got & SUBTREE["R"] == {o for o in INCIDENT_ORGS if sees(w, user, o)}


@case("GET", "/risk/points")
def _(w, user):
    r = w.client.get(f"{API}/risk/points", headers=w.headers(user))
    assert r.status_code == 200
    assert all(sees(w, user, p["enterprise"]) for p in r.json()["items"])


@case("POST", "/risk/points")
def _(w, user):
    for org in INCIDENT_ORGS:
        count = len(w.client.get(f"{API}/risk/points").json()["items"])
        r = w.client.post(f"{API}/risk/points", json={"enterprise": org, "name": f"point by {user}",
                                                       "method": "matrix", "l": 2, "s": 2}, headers=w.headers(user))
        expect(r, user, R.RISK_ASSESS, sees(w, user, org), ok=(201,))
        if r.status_code != 201:
            assert len(w.client.get(f"{API}/risk/points").json()["items"]) == count


@case("GET", "/kpis")
def _(w, user):
    r = w.client.get(f"{API}/kpis", headers=w.headers(user))
    assert r.status_code == 200
    mine = r.json()["alarms"]["raised"]
    for org in INCIDENT_ORGS:
        r = w.client.get(f"{API}/kpis", params={"enterprise": org}, headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, org), ok=(200,))
        if r.status_code == 200:
            assert r.json()["alarms"]["raised"] <= mine


@case("GET", "/summary")
def _(w, user):
    r = w.client.get(f"{API}/summary", headers=w.headers(user))
    assert r.status_code == 200
    assert r.json()["org"] == w.user_org[user]
    assert {e["enterprise"] for e in r.json()["enterprises"]} & SUBTREE["R"] == \
        {o for o in INCIDENT_ORGS if sees(w, user, o)}
    for org in ("R", "PA", "PB", *INCIDENT_ORGS):
        r = w.client.get(f"{API}/summary", params={"org": org}, headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, org), ok=(200,))
        if r.status_code == 200:
            assert all(sees(w, user, i["enterprise"]) for i in r.json()["incidents"])


@case("GET", "/reports")
def _(w, user):
    r = w.client.get(f"{API}/reports", headers=w.headers(user))
    assert r.status_code == 200
    assert {x["scope"] for x in r.json()["items"]} & set(INCIDENT_ORGS) == \
        {o for o in INCIDENT_ORGS if sees(w, user, o)}


@case("POST", "/reports")
def _(w, user):
    for org in INCIDENT_ORGS:
        r = w.client.post(f"{API}/reports", json={"scope": org, "period": "2026-10", "lang": "en"},
                          headers=w.headers(user))
        expect(r, user, R.REPORTS_REQUEST, sees(w, user, org), ok=(201,))


def report_file(kind: str):
    def check(w: World, user: str) -> None:
        for org, rid in w.report_id.items():
            r = w.client.get(f"{API}/reports/{rid}/{kind}", headers=w.headers(user))
            expect(r, user, R.READ, sees(w, user, org), ok=(200,))
    return check


for _kind in ("pdf", "html"):
    case("GET", f"/reports/{{report_id}}/{_kind}")(report_file(_kind))


@case("GET", "/hidden-dangers")
def _(w, user):
    r = w.client.get(f"{API}/hidden-dangers", headers=w.headers(user))
    assert r.status_code == 200
    assert {h["enterprise"] for h in r.json()["items"]} == {o for o in INCIDENT_ORGS if sees(w, user, o)}


@case("POST", "/hidden-dangers")
def _(w, user):
    for org in INCIDENT_ORGS:
        count = len(w.client.get(f"{API}/hidden-dangers").json()["items"])
        r = w.client.post(f"{API}/hidden-dangers", json={"enterprise": org, "title": f"by {user}", "grade": "general",
                                                          "found_by": "holiday", "handling": "on_the_spot"},
                          headers=w.headers(user))
        expect(r, user, R.HIDDEN_REPORT, sees(w, user, org), ok=(201,))
        if r.status_code != 201:
            assert len(w.client.get(f"{API}/hidden-dangers").json()["items"]) == count


@case("GET", "/hidden-dangers/{hd_id}")
def _(w, user):
    for org, hid in w.hidden_id.items():
        r = w.client.get(f"{API}/hidden-dangers/{hid}", headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, org), ok=(200,))


@case("POST", "/hidden-dangers/{hd_id}/transition")
def _(w, user):
    for org, hid in w.hidden_id.items():
        before = admin_view(w, f"{API}/hidden-dangers/{hid}")
        r = w.client.post(f"{API}/hidden-dangers/{hid}/transition", json={"to": "under_review"},
                          headers=w.headers(user))
        visible = sees(w, user, org)
        expect(r, user, R.HIDDEN_MANAGE, visible)
        if not (visible and may(user, R.HIDDEN_MANAGE)):
            assert admin_view(w, f"{API}/hidden-dangers/{hid}") == before


# -- the walk ---------------------------------------------------------------------------------------------------
def routes(app) -> set[tuple[str, str]]:
    """(method, path) of every API operation and ("WS", path) of every WebSocket."""
    return {(m, path) for m, path in app_routes(app) if path.startswith(API)}


def test_every_route_is_walked(world):
    assert routes(world.client.app) == set(CASES)


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1][len(API):]}")
@pytest.mark.parametrize("user", list(WALKERS))
def test_no_cross_scope_reads_or_writes(world, user, route):
    CASES[route](world, user)


def test_the_regulator_sees_both_parks(world):
    reg = world.headers("reg")
    enterprises = {s["enterprise"] for s in world.client.get(f"{API}/sensors", headers=reg).json()["items"]}
    assert enterprises == {"EA1", "EA2", "EB1"}
    alarms = world.client.get(f"{API}/alarms", params={"state": "all"}, headers=reg).json()["items"]
    assert {a["enterprise"] for a in alarms} == {"EA1", "EA2", "EB1"}
    parks = {o["code"] for o in world.client.get(f"{API}/orgs", headers=reg).json()["items"] if o["kind"] == "park"}
    assert {"PA", "PB"} <= parks
