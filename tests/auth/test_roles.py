"""The permission table, exhaustively: every role against every operation, on objects inside the
caller's scope, so the only thing that can refuse is the role. An operation is refused with 403
exactly when the role lacks the permission the operation declares (x-permission)."""

from __future__ import annotations

import itertools
import time

import pytest

from hazwatch.api import create_api
from hazwatch.auth import roles as R
from tests.auth.world import PASSWORD, World

API = "/api/v1"
# Each role's user, in an org that suits the role and holds enterprise EA1 (the target objects).
HOMES = {R.ADMIN: None, R.REGULATOR: "R", R.PARK_ADMIN: "PA", R.ENTERPRISE_ADMIN: "EA1", R.SUPERVISOR: "EA1",
         R.OPERATOR: "EA1", R.VIEWER: "EA1", R.DEVICE: "EA1"}
_n = itertools.count()


def _unique(prefix: str) -> str:
    return f"{prefix}-{next(_n)}-{time.monotonic_ns()}"


def _call(w: World, method: str, path: str, headers: dict):
    """One in-scope request for each operation, with a valid body."""
    c = w.client
    alarm = w.alarm_id["T-EA1"]
    if path == "/auth/token":
        return c.post(API + path, data={"grant_type": "password", "username": "nobody", "password": "x" * 12},
                      headers={"Authorization": ""})
    incident = w.incident_id["EA1"]
    urls = {  # built only for the operation at hand: some make a throwaway target first
        "/incidents/{incident_id}/tasks/{task_id}": lambda: f"/incidents/{incident}/tasks/{w.task_id['EA1']}",
        "/incidents/{incident_id}/interlocks/{interlock_id}":
            lambda: f"/incidents/{incident}/interlocks/{w.interlock_id['EA1']}",
        "/incidents/{incident_id}": lambda: f"/incidents/{incident}",
        "/notifications/{notification_id}": lambda: "/notifications/999999",
        "/hidden-dangers/{hd_id}": lambda: f"/hidden-dangers/{w.hidden_id['EA1']}",
        "/reports/{report_id}": lambda: f"/reports/{w.report_id['EA1']}",
        "/alarms/{alarm_id}": lambda: f"/alarms/{alarm}", "/sensors/{tag}": lambda: "/sensors/T-EA1",
        "/orgs/{org_id}": lambda: f"/orgs/{w.org_id['EA1']}",
        "/users/{user_id}": lambda: f"/users/{w.user_id[w.add_user(_unique('victim'), 'viewer', 'EA1')]}",
        "/devices/{code}/credentials/{cred_id}": lambda: "/devices/D-EA1/credentials/" + str(
            c.post(f"{API}/devices/D-EA1/credentials", json={"label": "target"}).json()["id"]),
        "/devices/{code}/credentials": lambda: "/devices/D-EA1/credentials",
        "/auth/keys/{key_id}": lambda: "/auth/keys/" + str(
            c.post(f"{API}/auth/keys", json={"label": "target"}, headers=headers).json().get("id", 1)),
    }
    url = path
    for pattern, real in urls.items():
        if path.startswith(pattern):
            url = real() + path[len(pattern):]
            break
    bodies = {
        "/telemetry": {"sensor": ["T-EA1"], "ts": [time.time()], "value": [61.0]},
        "/orgs": {"name": "new", "kind": "enterprise", "parent": w.org_id["PA"]},
        "/users": {"username": _unique("u"), "password": PASSWORD, "role": "viewer", "org": w.org_id["EA1"]},
        "/catalog": {"devices": [{"code": "D-EA1", "name": "DCS A1", "org": "EA1"}]},
        "/auth/keys": {"label": "k"}, "/auth/revoke": {"token": "hzk_unknown"},
        "/auth/password": {"current": "not the password", "new": "whatever new 1"},
        "/alarms/{alarm_id}/shelve": {"minutes": 1, "reason": "test"},
        "/alarms/{alarm_id}/comments": {"text": "note"},
        "/incidents": {"enterprise": "EA1", "title": "by role", "hazard_type": "other"},
        "/incidents/{incident_id}/transition": {"to": "assessing"},
        "/incidents/{incident_id}/comments": {"text": "note"},
        "/incidents/{incident_id}/reports": {"level": "county"},
        "/me/notification-preferences": {"channels": ["in_app"]},
        "/risk/major-hazard/evaluate": {"substances": [{"name": "ammonia", "quantity_t": 20}]},
        "/risk/points": {"enterprise": "EA1", "name": "p", "method": "matrix", "l": 2, "s": 3},
        "/hidden-dangers": {"enterprise": "EA1", "title": "t", "grade": "general", "found_by": "daily",
                            "handling": "on_the_spot"},
        "/hidden-dangers/{hd_id}/transition": {"to": "under_review"},
        "/reports": {"scope": "EA1", "period": "2026-11", "lang": "en"},
    }
    body = bodies.get(path, {} if method in ("POST", "PUT") else None)
    return c.request(method, API + url, json=body, headers=headers)


def _operations() -> list[tuple[str, str, str]]:
    doc = create_api().openapi()
    return sorted((m.upper(), p[len(API):], op["x-permission"]) for p, ops in doc["paths"].items()
                  if p.startswith(API) for m, op in ops.items())


def test_every_operation_declares_a_known_permission():
    doc = create_api().openapi()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path.startswith(API):
                assert op.get("x-permission") in R.ALL | {R.PUBLIC}, (method, path)


def test_the_table_names_every_role_and_only_known_permissions():
    assert set(R.PERMISSIONS) == {"admin", "regulator", "park_admin", "enterprise_admin", "supervisor", "operator",
                                  "viewer", "device"}
    for perms in R.PERMISSIONS.values():
        assert perms <= R.ALL
    assert R.PERMISSIONS[R.DEVICE] == {R.SELF, R.TELEMETRY_WRITE}
    assert R.PERMISSIONS[R.VIEWER].isdisjoint({R.TELEMETRY_WRITE, R.ALARM_OPERATE, R.CATALOG_WRITE, R.USERS_MANAGE})


@pytest.fixture(scope="module")
def role_tokens(world) -> dict[str, dict]:
    headers = {}
    for role, org in HOMES.items():
        if role == R.DEVICE:
            headers[role] = {"Authorization": f"Bearer {world.credential['D-EA1'][1]}"}
        else:
            headers[role] = world.headers(world.add_user(_unique(role), role, org))
    return headers


@pytest.mark.parametrize("operation", _operations(), ids=lambda o: f"{o[0]} {o[1]}")
@pytest.mark.parametrize("role", list(HOMES))
def test_role_against_operation(world, role_tokens, role, operation):
    method, path, permission = operation
    r = _call(world, method, path, role_tokens[role])
    if R.allowed(role, permission):
        assert r.status_code not in (401, 403), (role, method, path, r.status_code, r.text)
        assert r.status_code < 500
    else:
        assert r.status_code == 403, (role, method, path, r.status_code, r.text)
        assert role in r.json()["detail"]


@pytest.mark.parametrize("role", list(HOMES))
def test_stream_needs_read(world, role_tokens, role):
    from starlette.websockets import WebSocketDisconnect

    if R.allowed(role, R.READ):
        with world.client.websocket_connect(f"{API}/stream", headers=role_tokens[role]) as ws:
            world.send("T-EA1", 63.0)
            assert ws.receive_json()["type"] in ("values", "alarm")
    else:
        with pytest.raises(WebSocketDisconnect) as e, \
                world.client.websocket_connect(f"{API}/stream", headers=role_tokens[role]) as ws:
            ws.receive_json()
        assert e.value.code == 4403
