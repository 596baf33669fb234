"""Scope-walk cases, second half: orgs and users, the catalog and devices, tiers, audit and own
credentials, the ledger and application packs (registered into the walk's CASES on import)."""

from __future__ import annotations

import base64
import json
import time

from hazwatch.auth import roles as R
from tests.auth.conftest import WALKERS
from tests.auth.walk import API, admin_view, case, expect, may, sees
from tests.auth.world import DEVICE_ORG, PASSWORD, SENSOR_DEVICE, SENSOR_ORG, SUBTREE, World


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
