"""Device secrets, password logins, refresh tokens, API keys, revocation and login back-off."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from hazwatch.app import make_api
from hazwatch.auth.models import ApiToken, User
from tests.auth.world import PASSWORD, World
from tests.conftest import DATA, TOKEN, build_services, make_settings

API = "/api/v1"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def post_readings(w: World, tags: list[str], token: str, value: float = 10.0):
    now = time.time()
    return w.client.post(f"{API}/telemetry", headers=bearer(token),
                         json={"sensor": tags, "ts": [now + i * 1e-3 for i in range(len(tags))],
                               "value": [value] * len(tags)})


# -- device credentials -------------------------------------------------------------------------------------
def test_device_secret_writes_its_own_sensor(world):
    secret = world.client.post(f"{API}/devices/D-EA1/credentials", json={"label": "rtu"}).json()["secret"]
    before = len(world.client.get(f"{API}/sensors/T-EA1/series").json()["value"])
    r = post_readings(world, ["T-EA1"], secret)
    assert r.status_code == 200 and r.json() == {"accepted": 1, "rejected": []}
    assert len(world.client.get(f"{API}/sensors/T-EA1/series").json()["value"]) == before + 1


def test_device_secret_cannot_write_another_devices_sensor(world):
    secret = world.client.post(f"{API}/devices/D-EA1/credentials", json={"label": "rtu"}).json()["secret"]
    counts = {t: len(world.client.get(f"{API}/sensors/{t}/series").json()["value"]) for t in ("T-EA1B", "T-EB1")}
    # same enterprise, other device: refused with the reason; other enterprise: an unknown sensor
    r = post_readings(world, ["T-EA1", "T-EA1B", "T-EB1"], secret)
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 1
    reasons = {x["sensor"]: x["reason"] for x in body["rejected"]}
    assert reasons["T-EA1B"].startswith("sensor 'T-EA1B' is on device 'D-EA1B'")
    assert "own device's sensors" in reasons["T-EA1B"]
    assert reasons["T-EB1"] == "unknown sensor"
    for t, n in counts.items():
        assert len(world.client.get(f"{API}/sensors/{t}/series").json()["value"]) == n


def test_revoked_device_secret_is_refused(world):
    made = world.client.post(f"{API}/devices/D-EA2/credentials", json={"label": "old"}).json()
    assert post_readings(world, ["T-EA2"], made["secret"]).status_code == 200
    assert world.client.delete(f"{API}/devices/D-EA2/credentials/{made['id']}").status_code == 204
    r = post_readings(world, ["T-EA2"], made["secret"])
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    listed = world.client.get(f"{API}/devices/D-EA2/credentials").json()["items"]
    assert next(c for c in listed if c["id"] == made["id"])["revoked_at"] is not None


def test_device_secret_reads_nothing(world):
    secret = world.credential["D-EB1"][1]
    for url in ("/sensors", "/alarms", "/orgs", "/catalog", "/sensors/T-EB1/series"):
        assert world.client.get(API + url, headers=bearer(secret)).status_code == 403
    me = world.client.get(f"{API}/auth/me", headers=bearer(secret)).json()
    assert me["role"] == "device" and me["name"] == "device:D-EB1"


def test_secrets_are_stored_only_as_digests(world):
    secret = world.client.post(f"{API}/devices/D-EB1/credentials", json={"label": "x"}).json()["secret"]
    with world.services.engine.connect() as conn:
        rows = conn.execute(select(ApiToken.token_sha256, ApiToken.mqtt_hash)).all()
        hashes = conn.execute(select(User.password_hash).where(User.password_hash.is_not(None))).scalars().all()
    assert all(secret not in (d, m) for d, m in rows)
    assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


# -- logins ------------------------------------------------------------------------------------------------------
@pytest.fixture
def fresh(tmp_path):
    """An installation of its own, for tests that lock users out or expire tokens."""
    services = build_services(make_settings(tmp_path, login_free_failures=3, login_lock_s=30),
                              DATA / "tenants.yaml")
    with TestClient(make_api(services), headers=bearer(TOKEN)) as client:
        w = World(services, client)
        w.org_id = {o.code: o.id for o in services.orgs.current().nodes.values()}
        yield w


def login(w: World, username: str, password: str):
    return w.client.post(f"{API}/auth/token", headers={"Authorization": ""},
                         data={"grant_type": "password", "username": username, "password": password})


def test_password_login_refresh_and_revocation(fresh):
    fresh.add_user("op1", "operator", "EA1")
    r = login(fresh, "op1", PASSWORD)
    assert r.status_code == 200
    pair = r.json()
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    assert fresh.client.get(f"{API}/auth/me", headers=bearer(pair["access_token"])).json()["name"] == "op1"
    # the refresh token is spent when used: the new pair works, the old refresh token does not
    r2 = fresh.client.post(f"{API}/auth/token", headers={"Authorization": ""},
                           data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
    assert r2.status_code == 200
    again = fresh.client.post(f"{API}/auth/token", headers={"Authorization": ""},
                              data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
    assert again.status_code == 400 and "invalid_grant" in again.json()["detail"]
    # a spent refresh token presented again was stolen or replayed: the sessions it led to end too
    assert fresh.client.get(f"{API}/auth/me", headers=bearer(r2.json()["access_token"])).status_code == 401
    assert fresh.client.post(f"{API}/auth/token", headers={"Authorization": ""}, data={
        "grant_type": "refresh_token", "refresh_token": r2.json()["refresh_token"]}).status_code == 400
    # a refresh token is not an access token
    r3 = login(fresh, "op1", PASSWORD).json()
    assert fresh.client.get(f"{API}/auth/me", headers=bearer(r3["refresh_token"])).status_code == 401
    # revoking the access token ends it at once
    access = r3["access_token"]
    assert fresh.client.post(f"{API}/auth/revoke", json={"token": access}, headers=bearer(access)).json() == {
        "revoked": True}
    assert fresh.client.get(f"{API}/auth/me", headers=bearer(access)).status_code == 401


def test_access_tokens_expire(fresh):
    fresh.add_user("op2", "operator", "EA1")
    access = login(fresh, "op2", PASSWORD).json()["access_token"]
    assert fresh.client.get(f"{API}/auth/me", headers=bearer(access)).status_code == 200
    with fresh.services.engine.begin() as conn:  # let the clock run past its lifetime
        conn.execute(update(ApiToken).where(ApiToken.kind == "access").values(expires_at=time.time_ns() // 1000 - 1))
    fresh.services.auth.forget()
    assert fresh.client.get(f"{API}/auth/me", headers=bearer(access)).status_code == 401


def test_wrong_password_backs_off_and_is_audited(fresh):
    fresh.add_user("op3", "operator", "EA1")
    for _ in range(2):
        assert login(fresh, "op3", "wrong password!").status_code == 400
    r = login(fresh, "op3", "wrong password!")  # the third failure locks the name
    assert r.status_code == 400
    locked = login(fresh, "op3", PASSWORD)  # even the right password waits out the lock
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 29
    assert "try again" in locked.json()["detail"]
    # names that do not exist back off the same way, so the answer does not tell them apart
    for _ in range(3):
        login(fresh, "ghost", "whatever-password")
    assert login(fresh, "ghost", "whatever-password").status_code == 429
    failed = fresh.client.get(f"{API}/audit", params={"action": "auth.login_failed"}).json()["items"]
    # a name that is no user's is not kept: it may be a password typed into the wrong field
    assert {e["actor"] for e in failed} == {"op3", "(unknown user name)"} and "ghost" not in str(failed)
    assert PASSWORD not in str(failed) and "wrong password!" not in str(failed)


def test_api_keys_act_as_their_maker_until_revoked(fresh):
    fresh.add_user("viewer1", "viewer", "PB")
    made = fresh.client.post(f"{API}/auth/keys", json={"label": "grafana", "expires_days": 30},
                             headers=fresh.headers("viewer1"))
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith("hzk_")
    assert [s["tag"] for s in fresh.client.get(f"{API}/sensors", headers=bearer(key)).json()["items"]] == ["T-EB1"]
    listed = fresh.client.get(f"{API}/auth/keys", headers=fresh.headers("viewer1")).json()["items"]
    assert [k["label"] for k in listed] == ["grafana"] and "key" not in listed[0]
    assert fresh.client.delete(f"{API}/auth/keys/{made.json()['id']}",
                               headers=fresh.headers("viewer1")).status_code == 204
    assert fresh.client.get(f"{API}/sensors", headers=bearer(key)).status_code == 401


def test_disabling_a_user_ends_every_credential(fresh):
    fresh.add_user("ea-admin", "enterprise_admin", "EA1")
    fresh.add_user("leaver", "operator", "EA1")
    key = fresh.client.post(f"{API}/auth/keys", json={"label": "k"}, headers=fresh.headers("leaver")).json()["key"]
    r = fresh.client.delete(f"{API}/users/{fresh.user_id['leaver']}", headers=fresh.headers("ea-admin"))
    assert r.status_code == 200 and r.json()["disabled"] is True
    for token in (key, fresh.tokens["leaver"]):
        assert fresh.client.get(f"{API}/auth/me", headers=bearer(token)).status_code == 401
    assert login(fresh, "leaver", PASSWORD).status_code == 400


def test_user_creation_rules(fresh):
    fresh.add_user("pa-admin", "park_admin", "PA")
    h = fresh.headers("pa-admin")

    def create(**kw):
        body = {"username": f"u{time.monotonic_ns()}", "password": PASSWORD, "role": "operator",
                "org": fresh.org_id["EA1"]} | kw
        return fresh.client.post(f"{API}/users", json=body, headers=h)

    assert create().status_code == 201
    assert create(role="admin").status_code == 403  # a park admin cannot make administrators
    assert create(role="regulator", org=fresh.org_id["PA"]).status_code == 403
    r = create(role="park_admin", org=fresh.org_id["EA1"])
    assert r.status_code == 422 and "park_admin cannot belong to an enterprise" in r.json()["detail"]
    assert create(password="short").status_code == 422
    assert create(org=fresh.org_id["EB1"]).status_code == 404  # outside the park
    taken = create(username="pa-admin")
    assert taken.status_code == 409


def test_changing_a_password_ends_other_sessions(fresh):
    fresh.add_user("op4", "operator", "EA1")
    other = fresh.tokens["op4"]  # an earlier session
    mine = login(fresh, "op4", PASSWORD).json()["access_token"]
    r = fresh.client.post(f"{API}/auth/password", json={"current": "not it at all", "new": "a new password 4"},
                          headers=bearer(mine))
    assert r.status_code == 422
    r = fresh.client.post(f"{API}/auth/password", json={"current": PASSWORD, "new": "a new password 4"},
                          headers=bearer(mine))
    assert r.status_code == 204
    assert fresh.client.get(f"{API}/auth/me", headers=bearer(mine)).status_code == 200
    assert fresh.client.get(f"{API}/auth/me", headers=bearer(other)).status_code == 401
    assert login(fresh, "op4", PASSWORD).status_code == 400
    assert login(fresh, "op4", "a new password 4").status_code == 200
    assert fresh.client.get(f"{API}/audit", params={"action": "user.password_change"}).json()["count"] == 1


def test_cli_sets_the_bootstrap_admins_password(fresh):
    from typer.testing import CliRunner

    from hazwatch.cli.main import app as cli

    data_dir = str(fresh.services.settings.data_dir)
    r = CliRunner().invoke(cli, ["users", "passwd", "admin", "--password-stdin", "--data-dir", data_dir],
                           input="admin password 1\n")
    assert r.exit_code == 0, r.output
    assert login(fresh, "admin", "admin password 1").status_code == 200
    r = CliRunner().invoke(cli, ["users", "add", "ops", "--role", "operator", "--org", "EA2", "--password-stdin",
                                 "--data-dir", data_dir], input="ops password 1\n")
    assert r.exit_code == 0, r.output
    me = fresh.client.get(f"{API}/auth/me", headers=bearer(login(fresh, "ops", "ops password 1").json()[
        "access_token"])).json()
    assert (me["role"], me["org"]) == ("operator", fresh.org_id["EA2"])


def test_scoped_catalog_writes_stay_inside_the_scope(fresh):
    fresh.add_user("pa-cat", "park_admin", "PA")
    h = fresh.headers("pa-cat")

    def apply(doc):
        return fresh.client.post(f"{API}/catalog", json=doc, headers=h)

    # a new enterprise, device and sensor in the park: accepted
    r = apply({"orgs": [{"code": "EA3", "name": "Enterprise A3", "kind": "enterprise", "parent": "PA"}],
               "devices": [{"code": "D-EA3", "name": "DCS A3", "org": "EA3"}],
               "sensors": [{"tag": "T-EA3", "name": "Tank A3", "kind": "level", "unit": "m", "device": "D-EA3",
                            "range_low": 0, "range_high": 10}]})
    assert r.status_code == 200, r.text
    assert {s["tag"] for s in fresh.client.get(f"{API}/sensors", headers=h).json()["items"]} >= {"T-EA3"}
    # the other park, its objects, and the park's own place in the tree are out of reach
    for doc, problem in (
        ({"orgs": [{"code": "EB9", "name": "x", "kind": "enterprise", "parent": "PB"}]}, "unknown org 'PB'"),
        ({"devices": [{"code": "D-EB1", "name": "taken", "org": "EA1"}]}, "'D-EB1' is not available"),
        ({"devices": [{"code": "D-NEW", "name": "x", "org": "EB1"}]}, "unknown org 'EB1'"),
        ({"orgs": [{"code": "PA", "name": "Park A", "kind": "park", "parent": "PB"}]}, "unknown org 'PB'"),
        ({"orgs": [{"code": "PA", "name": "Park A", "kind": "region"}]}, "top of the tree"),
        ({"orgs": [{"code": "EA1", "name": "A1", "kind": "park", "parent": "PA"}]}, "an org's kind (enterprise)"),
        ({"orgs": [{"code": "EA1", "name": "A1", "kind": "park", "parent": "R"}]}, "unknown org 'R'"),
    ):
        r = apply(doc)
        assert r.status_code == 422 and problem in r.text, (doc, r.text)
    assert fresh.client.get(f"{API}/orgs/{fresh.org_id['PA']}").json()["parent"] == fresh.org_id["R"]


def test_a_new_admin_token_setting_retires_the_old_one(fresh):
    assert fresh.client.get(f"{API}/auth/me").status_code == 200
    fresh.services.auth.ensure_admin("a-rotated-admin-token")  # the next start with a new setting
    assert fresh.client.get(f"{API}/auth/me").status_code == 401
    assert fresh.client.get(f"{API}/auth/me", headers=bearer("a-rotated-admin-token")).status_code == 200


def test_a_lasting_key_needs_a_fresh_password(fresh):
    """A stolen session or key cannot mint a key that outlives it (an API key is made with the
    password, or within 5 minutes of a password log-in)."""
    fresh.add_user("op-keys", "operator", "EA1")
    access = login(fresh, "op-keys", PASSWORD).json()["access_token"]
    made = fresh.client.post(f"{API}/auth/keys", json={"label": "k1"}, headers=bearer(access))
    assert made.status_code == 201  # a log-in a moment ago is fresh
    key = made.json()["key"]
    refused = fresh.client.post(f"{API}/auth/keys", json={"label": "k2"}, headers=bearer(key))
    assert refused.status_code == 422 and "password" in refused.json()["detail"]
    with fresh.services.engine.begin() as conn:  # the log-in grows old
        conn.execute(update(ApiToken).where(ApiToken.kind == "access").values(
            created_at=time.time_ns() // 1000 - 301 * 1_000_000))
    assert fresh.client.post(f"{API}/auth/keys", json={"label": "k3"}, headers=bearer(access)).status_code == 422
    assert fresh.client.post(f"{API}/auth/keys", json={"label": "k4", "password": "wrong password!"},
                             headers=bearer(key)).status_code == 422
    assert fresh.client.post(f"{API}/auth/keys", json={"label": "k5", "password": PASSWORD},
                             headers=bearer(key)).status_code == 201


def test_a_password_change_ends_every_key_and_session_but_the_one_making_it(fresh):
    fresh.add_user("op-change", "operator", "EA1")
    other = login(fresh, "op-change", PASSWORD).json()
    mine = login(fresh, "op-change", PASSWORD).json()["access_token"]
    key = fresh.client.post(f"{API}/auth/keys", json={"label": "k"}, headers=bearer(mine)).json()["key"]
    r = fresh.client.post(f"{API}/auth/password", json={"current": PASSWORD, "new": "a new password 7"},
                          headers=bearer(mine))
    assert r.status_code == 204
    for token in (other["access_token"], key):
        assert fresh.client.get(f"{API}/auth/me", headers=bearer(token)).status_code == 401
    assert fresh.client.post(f"{API}/auth/token", headers={"Authorization": ""}, data={
        "grant_type": "refresh_token", "refresh_token": other["refresh_token"]}).status_code == 400
    assert fresh.client.get(f"{API}/auth/me", headers=bearer(mine)).status_code == 200


def test_two_refreshes_with_one_token_give_one_pair(fresh):
    from concurrent.futures import ThreadPoolExecutor

    fresh.add_user("op-race", "operator", "EA1")
    refresh = login(fresh, "op-race", PASSWORD).json()["refresh_token"]
    auth = fresh.services.auth

    def rotate(_):
        try:
            return auth.refresh(refresh)
        except Exception as e:  # noqa: BLE001 - the loser's refusal is the point
            return e

    for _ in range(3):
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(rotate, range(4)))
        pairs = [r for r in results if not isinstance(r, Exception)]
        assert len(pairs) <= 1
        if pairs:  # the replays revoked the family: the winner's pair is dead too
            assert auth.current(pairs[0].access_token) is None
        refresh = login(fresh, "op-race", PASSWORD).json()["refresh_token"]
