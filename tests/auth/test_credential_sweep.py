"""Every route, called with every kind of credential that must not work: none, a malformed one, an
unknown one, one from another installation, an expired access token, a revoked access token, a
refresh token used as an access token, a revoked API key, an expired API key and the token of a
disabled user. Each answers 401 (the WebSocket closes with 4401) before anything is read or
changed; the same routes answer a valid token of the same user with something other than 401, so
the refusal is the credential's. The routes open to all are listed here by name, and a route
added without a decision fails the sweep. A foreign tenant's valid token is the scope walk's
subject (test_scope_walk.py): there, everything outside the caller's scope answers 404."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from starlette.websockets import WebSocketDisconnect

from hazwatch.app import make_api
from hazwatch.auth import Principal, Scope
from hazwatch.auth.models import ApiToken
from hazwatch.auth.tokens import digest
from tests.auth.routes import app_routes
from tests.conftest import DATA, TOKEN, build_services, make_settings

PASSWORD = "sweep-password-8c2e"
# open to anyone by design: signing in, the public transparency log (anyone may audit it),
# liveness, readiness, Prometheus scraping, and the way to the console (which signs in by the API)
PUBLIC = {("POST", "/api/v1/auth/token"), ("GET", "/ledger/checkpoint"), ("GET", "/ledger/tile/{path:path}"),
          ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/")}
BAD = ["missing", "malformed", "unknown", "another installation", "expired access token", "revoked access token",
       "refresh token as access", "revoked API key", "expired API key", "disabled user"]


class Sweep:
    def __init__(self, client: TestClient, credentials: dict[str, str | None], valid: str) -> None:
        self.client, self.credentials, self.valid = client, credentials, valid


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Iterator[Sweep]:
    settings = make_settings(tmp_path_factory.mktemp("sweep"), rate_limit_rps=0, login_rate_limit_rps=0)
    services = build_services(settings, DATA / "catalog.yaml")
    other = build_services(make_settings(tmp_path_factory.mktemp("other")), DATA / "catalog.yaml")
    admin = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(make_api(services)) as c:
        def user(name: str) -> int:
            r = c.post("/api/v1/users", json={"username": name, "password": PASSWORD, "role": "admin"}, headers=admin)
            assert r.status_code == 201, r.text
            return r.json()["id"]

        def login(name: str) -> dict:
            r = c.post("/api/v1/auth/token", data={"grant_type": "password", "username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            return r.json()

        def key(bearer: str, **kw) -> str:
            r = c.post("/api/v1/auth/keys", json={"label": "sweep", **kw},
                       headers={"Authorization": f"Bearer {bearer}"})
            assert r.status_code == 201, r.text
            return r.json()["key"]

        user("sweeper")
        valid = login("sweeper")["access_token"]
        expired, revoked, pair = (login("sweeper") for _ in range(3))
        expired_key, revoked_key = key(valid, expires_days=1), key(valid)
        disabled_id = user("leaver")
        disabled = login("leaver")["access_token"]
        with services.engine.begin() as conn:  # their time is up
            for tok in (expired["access_token"], expired_key):
                conn.execute(update(ApiToken).where(ApiToken.token_sha256 == digest(tok)).values(expires_at=1))
        bearer = {"Authorization": f"Bearer {valid}"}
        assert c.post("/api/v1/auth/revoke", json={"token": revoked["access_token"]}, headers=bearer).json() == {
            "revoked": True}
        assert c.post("/api/v1/auth/revoke", json={"token": revoked_key}, headers=bearer).json() == {"revoked": True}
        assert c.delete(f"/api/v1/users/{disabled_id}", headers=admin).json()["disabled"] is True
        other.users.create(Principal(None, "setup", "admin", None), Scope(None), "sweeper", PASSWORD, "admin", None)
        foreign = other.auth.login("sweeper", PASSWORD).access_token  # same name, same password, not ours
        yield Sweep(c, {
            "missing": None, "malformed": "Bearer", "unknown": "Bearer hz_" + "0" * 43,
            "another installation": f"Bearer {foreign}",
            "expired access token": f"Bearer {expired['access_token']}",
            "revoked access token": f"Bearer {revoked['access_token']}",
            "refresh token as access": f"Bearer {pair['refresh_token']}",
            "revoked API key": f"Bearer {revoked_key}", "expired API key": f"Bearer {expired_key}",
            "disabled user": f"Bearer {disabled}",
        }, valid)


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)  # the credential is checked before the path is looked at


def _call(sweep: Sweep, method: str, path: str, authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization is not None else {}
    if method == "WS":
        token = (authorization or "").removeprefix("Bearer").strip()
        try:  # a refused socket is closed before it is accepted: entering raises
            with sweep.client.websocket_connect(_url(path) + (f"?token={token}" if token else ""), headers=headers):
                return 0
        except WebSocketDisconnect as e:
            return e.code
    return sweep.client.request(method, _url(path), headers=headers).status_code


def test_every_route_is_either_public_by_name_or_swept(sweep):
    routes = set(app_routes(sweep.client.app))
    assert routes >= PUBLIC, f"public routes that no longer exist: {PUBLIC - routes}"
    assert len(routes - PUBLIC) > 70  # the whole API, not a part of it


@pytest.mark.parametrize("credential", BAD)
def test_every_route_refuses_a_credential_that_must_not_work(sweep, credential):
    routes = [r for r in app_routes(sweep.client.app) if r not in PUBLIC]
    auth = sweep.credentials[credential]
    let_through = [(m, p, code) for m, p in routes if (code := _call(sweep, m, p, auth)) not in (401, 4401)]
    assert not let_through, f"{credential}: answered without 401: {let_through}"


def test_the_same_routes_take_the_valid_token(sweep):
    """The control: the sweep's 401s come from the credential, not from the route."""
    routes = [r for r in app_routes(sweep.client.app) if r not in PUBLIC and r[0] in ("GET", "WS")]
    refused = [(m, p) for m, p in routes if _call(sweep, m, p, f"Bearer {sweep.valid}") in (401, 4401)]
    assert not refused
