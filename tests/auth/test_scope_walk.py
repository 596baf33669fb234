"""Every route, walked by users of two sibling enterprises, two sibling parks and the regulator
above them: nothing outside a user's scope is read or changed, out-of-scope objects answer 404,
and the regulator sees both parks. A route added without a case here fails
test_every_route_is_walked, so the walk stays complete."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import pytest

from hazwatch.auth import roles as R
from tests.auth.conftest import WALKERS
from tests.auth.routes import app_routes
from tests.auth.world import DEVICE_ORG, PASSWORD, SENSOR_DEVICE, SENSOR_ORG, SUBTREE, World

API = "/api/v1"
CASES: dict[tuple[str, str], Callable[[World, str], None]] = {}


def case(method: str, path: str):
    def register(fn):
        CASES[(method, API + path)] = fn
        return fn
    return register


# -- helpers --------------------------------------------------------------------------------------------
def sees(w: World, user: str, org: str) -> bool:
    return org in SUBTREE[w.user_org[user]]


def may(user: str, permission: str) -> bool:
    return R.allowed(WALKERS[user][0], permission)


def expect(r, user: str, permission: str, visible: bool, ok=(200, 201, 204, 409, 422)) -> None:
    """The role is checked first (403), then the scope (404); in scope and permitted it works."""
    if not may(user, permission):
        assert r.status_code == 403, (user, r.status_code, r.text)
    elif not visible:
        assert r.status_code == 404, (user, r.status_code, r.text)
    else:
        assert r.status_code in ok, (user, r.status_code, r.text)


def admin_view(w: World, url: str):
    r = w.client.get(url)
    return r.status_code, r.json()


def orgs_of(codes, table) -> set[str]:
    return {table[c] for c in codes}


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


# -- orgs, users --------------------------------------------------------------------------------------------
@case("GET", "/orgs")
def _(w, user):
    r = w.client.get(f"{API}/orgs", headers=w.headers(user))
    codes = {o["code"] for o in r.json()["items"]}
    assert codes >= SUBTREE[w.user_org[user]]
    assert all(sees(w, user, c) or c not in SUBTREE["R"] for c in codes)
    # orgs created during the walk lie below the user's own ones
    ids = {o["id"] for o in r.json()["items"]}
    assert all(o["parent"] in ids or o["code"] == w.user_org[user] for o in r.json()["items"])


@case("GET", "/orgs/{org_id}")
def _(w, user):
    for code in SUBTREE["R"]:
        r = w.client.get(f"{API}/orgs/{w.org_id[code]}", headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, code), ok=(200,))


@case("POST", "/orgs")
def _(w, user):
    below = {"R": "park", "PA": "enterprise", "PB": "enterprise", "EA1": "enterprise", "EA2": "enterprise",
             "EB1": "enterprise"}
    for parent, kind in below.items():
        count = len(w.client.get(f"{API}/orgs").json()["items"])
        r = w.client.post(f"{API}/orgs", json={"name": f"new by {user}", "kind": kind, "parent": w.org_id[parent]},
                          headers=w.headers(user))
        visible = sees(w, user, parent)
        expect(r, user, R.ORGS_WRITE, visible, ok=(201, 422))
        if r.status_code != 201:
            assert len(w.client.get(f"{API}/orgs").json()["items"]) == count


@case("GET", "/users")
def _(w, user):
    r = w.client.get(f"{API}/users", headers=w.headers(user))
    if not may(user, R.USERS_MANAGE):
        assert r.status_code == 403
        return
    everyone = w.client.get(f"{API}/users").json()["items"]
    expected = {u["id"] for u in everyone if u["org_code"] and sees(w, user, u["org_code"])}
    assert {u["id"] for u in r.json()["items"]} == expected


@case("GET", "/users/{user_id}")
def _(w, user):
    for other, uid in w.user_id.items():
        r = w.client.get(f"{API}/users/{uid}", headers=w.headers(user))
        expect(r, user, R.USERS_MANAGE, sees(w, user, w.user_org[other]), ok=(200,))


@case("POST", "/users")
def _(w, user):
    for code in SUBTREE["R"]:
        name = f"v-{user}-{code}-{time.monotonic_ns()}"
        r = w.client.post(f"{API}/users", json={"username": name, "password": PASSWORD, "role": "viewer",
                                                 "org": w.org_id[code]}, headers=w.headers(user))
        expect(r, user, R.USERS_MANAGE, sees(w, user, code), ok=(201,))
        listed = {u["username"] for u in w.client.get(f"{API}/users").json()["items"]}
        assert (name in listed) == (r.status_code == 201)


@case("DELETE", "/users/{user_id}")
def _(w, user):
    for code in SUBTREE["R"]:
        target = w.add_user(f"t-{user}-{code}-{time.monotonic_ns()}", "viewer", code)
        r = w.client.delete(f"{API}/users/{w.user_id[target]}", headers=w.headers(user))
        visible = sees(w, user, code)
        expect(r, user, R.USERS_MANAGE, visible, ok=(200,))
        still = w.client.get(f"{API}/auth/me", headers=w.headers(target)).status_code
        assert still == (401 if r.status_code == 200 else 200)


# -- catalog, devices ---------------------------------------------------------------------------------------
@case("GET", "/catalog")
def _(w, user):
    doc = w.client.get(f"{API}/catalog", headers=w.headers(user)).json()
    assert {d["code"] for d in doc["devices"]} == {d for d, o in DEVICE_ORG.items() if sees(w, user, o)}
    assert {s["tag"] for s in doc["sensors"]} == {t for t, o in SENSOR_ORG.items() if sees(w, user, o)}
    assert {o["code"] for o in doc["orgs"]} >= SUBTREE[w.user_org[user]]


@case("POST", "/catalog")
def _(w, user):
    for tag, org in SENSOR_ORG.items():
        sensor = {"tag": tag, "name": f"renamed by {user}", "kind": "level", "unit": "m",
                  "device": SENSOR_DEVICE[tag], "range_low": 0, "range_high": 100, "hh": 50}
        before = admin_view(w, f"{API}/sensors/{tag}")[1]["name"]
        r = w.client.post(f"{API}/catalog", json={"sensors": [sensor]}, headers=w.headers(user))
        after = admin_view(w, f"{API}/sensors/{tag}")[1]["name"]
        if not may(user, R.CATALOG_WRITE):
            assert r.status_code == 403 and after == before
        elif sees(w, user, org):
            assert r.status_code == 200, r.text
            assert after == f"renamed by {user}"
        else:
            assert r.status_code == 422 and f"{tag!r} is not available" in r.text
            assert after == before


@case("GET", "/devices")
def _(w, user):
    r = w.client.get(f"{API}/devices", headers=w.headers(user))
    assert {d["code"] for d in r.json()["items"]} == {d for d, o in DEVICE_ORG.items() if sees(w, user, o)}


@case("GET", "/devices/{code}/credentials")
def _(w, user):
    for dev, org in DEVICE_ORG.items():
        r = w.client.get(f"{API}/devices/{dev}/credentials", headers=w.headers(user))
        expect(r, user, R.DEVICE_CREDENTIALS, sees(w, user, org), ok=(200,))


@case("POST", "/devices/{code}/credentials")
def _(w, user):
    for dev, org in DEVICE_ORG.items():
        before = len(w.client.get(f"{API}/devices/{dev}/credentials").json()["items"])
        r = w.client.post(f"{API}/devices/{dev}/credentials", json={"label": user}, headers=w.headers(user))
        expect(r, user, R.DEVICE_CREDENTIALS, sees(w, user, org), ok=(201,))
        after = len(w.client.get(f"{API}/devices/{dev}/credentials").json()["items"])
        assert after == before + (r.status_code == 201)


@case("DELETE", "/devices/{code}/credentials/{cred_id}")
def _(w, user):
    for dev, org in DEVICE_ORG.items():
        made = w.client.post(f"{API}/devices/{dev}/credentials", json={"label": "target"}).json()
        r = w.client.delete(f"{API}/devices/{dev}/credentials/{made['id']}", headers=w.headers(user))
        expect(r, user, R.DEVICE_CREDENTIALS, sees(w, user, org), ok=(204,))
        works = w.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {made['secret']}"}).status_code
        assert works == (401 if r.status_code == 204 else 200)


# -- tiers --------------------------------------------------------------------------------------------------------
@case("GET", "/tiers/events")
def _(w, user):
    from hazwatch.domain import SystemClock
    from hazwatch.scale.tiers import TierReceiver

    # what parks PA and PB sent up, and a park this installation's catalog does not know
    TierReceiver(w.services.engine, SystemClock(), "nats://unused")._store(
        [{"park": p, "kind": "alarm", "key": "1", "ts": 1, "body": {"event": "raised"}} for p in ("PA", "PB", "PX")])
    r = w.client.get(f"{API}/tiers/events", headers=w.headers(user))
    assert r.status_code == 200
    assert {e["park"] for e in r.json()["items"]} == {p for p in ("PA", "PB") if sees(w, user, p)}
    everything = w.client.get(f"{API}/tiers/events").json()["items"]  # the installation's administrator
    assert {e["park"] for e in everything} == {"PA", "PB", "PX"}


# -- audit, own credentials -------------------------------------------------------------------------------------
@case("GET", "/audit")
def _(w, user):
    r = w.client.get(f"{API}/audit", headers=w.headers(user))
    if not may(user, R.AUDIT_READ):
        assert r.status_code == 403
        return
    code_of = {o["id"]: o["code"] for o in w.client.get(f"{API}/orgs").json()["items"]}
    orgs = {code_of.get(e["org_id"]) for e in r.json()["items"]}
    assert orgs and all(o is not None and o in code_of.values() for o in orgs)
    mine = {o["code"] for o in w.client.get(f"{API}/orgs", headers=w.headers(user)).json()["items"]}
    assert orgs <= mine
    if w.user_org[user] == "R":  # the regulator sees what happened in both parks
        assert {"EA1", "EA2", "EB1"} <= orgs


@case("GET", "/adapters")
def _(w, user):
    r = w.client.get(f"{API}/adapters", headers=w.headers(user))
    if may(user, R.SYSTEM_READ):
        assert r.status_code == 200 and [a["name"] for a in r.json()["items"]] == ["opcua"]
        assert "T-EA1" not in r.text  # counters only, no tenant's data
    else:
        assert r.status_code == 403


@case("GET", "/auth/me")
def _(w, user):
    me = w.client.get(f"{API}/auth/me", headers=w.headers(user)).json()
    assert (me["name"], me["role"], me["org"]) == (user, WALKERS[user][0], w.org_id[WALKERS[user][1]])


@case("POST", "/auth/token")
def _(w, user):
    r = w.client.post(f"{API}/auth/token", data={"grant_type": "password", "username": user, "password": PASSWORD},
                      headers={"Authorization": ""})
    token = r.json()["access_token"]
    assert w.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["name"] == user


@case("POST", "/auth/password")
def _(w, user):
    for new, current in (("walk password 9", PASSWORD), (PASSWORD, "walk password 9")):
        r = w.client.post(f"{API}/auth/password", json={"current": current, "new": new}, headers=w.headers(user))
        assert r.status_code == 204
    for other in WALKERS:  # nobody else's session ended
        assert w.client.get(f"{API}/auth/me", headers=w.headers(other)).status_code == 200
    # the user's own API key ended with the change; the walk goes on with a new one
    _kid, old = w.key[user]
    assert w.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    made = w.client.post(f"{API}/auth/keys", json={"label": "walk", "password": PASSWORD}, headers=w.headers(user))
    assert made.status_code == 201, made.text
    w.key[user] = (made.json()["id"], made.json()["key"])


@case("POST", "/auth/revoke")
def _(w, user):
    for other, (_kid, key) in w.key.items():
        if other == user:
            continue
        r = w.client.post(f"{API}/auth/revoke", json={"token": key}, headers=w.headers(user))
        assert r.status_code == 200 and r.json() == {"revoked": False}
        assert w.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200


@case("GET", "/auth/keys")
def _(w, user):
    ids = {k["id"] for k in w.client.get(f"{API}/auth/keys", headers=w.headers(user)).json()["items"]}
    assert w.key[user][0] in ids
    assert not ids & {kid for other, (kid, _) in w.key.items() if other != user}


@case("POST", "/auth/keys")
def _(w, user):
    r = w.client.post(f"{API}/auth/keys", json={"label": "mine"}, headers=w.headers(user))
    me = w.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {r.json()['key']}"}).json()
    assert me["name"] == user  # a key acts as its maker, with the maker's scope


@case("DELETE", "/auth/keys/{key_id}")
def _(w, user):
    for other, (kid, key) in w.key.items():
        if other == user:
            continue
        assert w.client.delete(f"{API}/auth/keys/{kid}", headers=w.headers(user)).status_code == 404
        assert w.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200


@case("WS", "/stream")
def _(w, user):
    visible = {t for t, o in SENSOR_ORG.items() if sees(w, user, o)}
    got: set[str] = set()
    with w.client.websocket_connect(f"{API}/stream", headers=w.headers(user)) as ws:
        for _round in range(20):  # each round sends to every sensor, so at least one message is due
            for tag in SENSOR_ORG:
                w.send(tag, 62.0 + _round / 100)
            msg = ws.receive_json()
            got |= set(msg["sensor"]) if msg["type"] == "values" else {msg["alarm"]["sensor"]}
            if got >= visible:
                break
    assert got == visible


# -- the ledger -------------------------------------------------------------------------------------------------
def _integrated(w: World) -> None:
    w.services.ledger.integrate()
    w.services.ledger.cosign()  # no witnesses configured: published on the log's signature alone


@case("GET", "/ledger/status")
def _(w, user):
    r = w.client.get(f"{API}/ledger/status", headers=w.headers(user))
    expect(r, user, R.READ, True, ok=(200,))
    if r.status_code == 200:  # the log is one for the installation: no tenant's data in it
        assert set(r.json()) >= {"origin", "size", "published_size", "checkpoint", "log_vkey"}


@case("GET", "/ledger/proof/{index}")
def _(w, user):
    _integrated(w)
    r = w.client.get(f"{API}/ledger/proof/0", headers=w.headers(user))
    expect(r, user, R.READ, True, ok=(200,))
    if r.status_code == 200:  # entries are public, the records they seal are not
        extra = next(x for x in r.text.splitlines() if x.startswith("extra "))
        assert "record" not in json.loads(base64.b64decode(extra[6:]))


@case("GET", "/alarms/{alarm_id}/journal/{row}/proof")
def _(w, user):
    _integrated(w)
    for tag, org in SENSOR_ORG.items():
        alarm = w.alarm_id[tag]
        row = w.client.get(f"{API}/alarms/{alarm}/journal").json()["items"][0]["id"]
        r = w.client.get(f"{API}/alarms/{alarm}/journal/{row}/proof", headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, org), ok=(200,))
        if r.status_code == 200:
            extra = next(x for x in r.text.splitlines() if x.startswith("extra "))
            assert json.loads(base64.b64decode(extra[6:]))["record"]["alarm_id"] == alarm
        else:
            assert tag not in r.text


# -- application packs -------------------------------------------------------------------------------------------
ENTERPRISES = ("EA1", "EA2", "EB1")


@case("GET", "/packs")
def _(w, user):
    r = w.client.get(f"{API}/packs", headers=w.headers(user))
    assert r.status_code == 200 and "tank-farm" in {p["name"] for p in r.json()["items"]}


@case("GET", "/packs/{name}")
def _(w, user):
    r = w.client.get(f"{API}/packs/tank-farm", headers=w.headers(user))
    assert r.status_code == 200 and "GB/T 50493-2019" in r.text


@case("GET", "/packs/installs")
def _(w, user):
    for org in ENTERPRISES:
        r = w.client.get(f"{API}/packs/installs", params={"org": org}, headers=w.headers(user))
        expect(r, user, R.READ, sees(w, user, org), ok=(200,))
        assert org in r.text or r.status_code == 404
        if r.status_code == 404:
            assert "no such org" in r.text


@case("POST", "/packs/{name}/apply")
def _(w, user):
    for org in ENTERPRISES:  # a dry run: what it would make is told, nothing changes
        body = {"org": org, "params": {"tag_prefix": f"{org}-{user}-"}, "dry_run": True}
        r = w.client.post(f"{API}/packs/tank-farm/apply", json=body, headers=w.headers(user))
        expect(r, user, R.CATALOG_WRITE, sees(w, user, org), ok=(200,))
        if r.status_code == 200:
            assert r.json()["created"]["sensors"] == 11
    for org in ENTERPRISES:
        assert admin_view(w, f"{API}/sensors/{org}-{user}-TK101-LT")[0] == 404


@case("POST", "/packs/{name}/upgrade")
def _(w, user):
    for org in ENTERPRISES:
        r = w.client.post(f"{API}/packs/tank-farm/upgrade", json={"org": org, "dry_run": True}, headers=w.headers(user))
        expect(r, user, R.CATALOG_WRITE, sees(w, user, org), ok=(422,))
        if r.status_code == 422:
            assert f"tank-farm is not installed on {org}" in r.text


@case("POST", "/packs/{name}/fit")
def _(w, user):
    for org in ENTERPRISES:
        r = w.client.post(f"{API}/packs/deep-well-casting/fit", json={"org": org, "dry_run": True},
                          headers=w.headers(user))
        expect(r, user, R.CATALOG_WRITE, sees(w, user, org), ok=(422,))
        if r.status_code == 422:
            assert f"deep-well-casting is not installed on {org}" in r.text


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
