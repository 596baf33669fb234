"""Sessions that cannot outlive their credential, and log-in throttling that cannot be turned
against a user, tried over real sockets against a real server."""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.auth.world import PASSWORD
from tests.incidents.helpers import add_user


def _login(base: str, user: str, password: str, source: str) -> httpx.Response:
    """A log-in from a chosen loopback address (127.0.0.0/8 all reach this machine)."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30) as c:
        return c.post(f"{base}/api/v1/auth/token", data={"username": user, "password": password})


def _closed_within(ws, seconds: float) -> tuple[int | None, float]:
    """Read until the server closes the socket; returns its close code and how long it took."""
    start = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        while time.monotonic() - start < seconds + 5:
            ws.recv(timeout=seconds + 5)
    return closed.value.rcvd.code if closed.value.rcvd else None, time.monotonic() - start


@pytest.mark.parametrize("how", ["revoked", "disabled"])
def test_a_revoked_or_disabled_users_stream_closes_within_5_s(server, how):
    name = f"watch-{how}"
    headers = add_user(server.services, name, "operator", "EA1")
    token = headers["Authorization"][7:]
    url = server.base.replace("http", "ws") + f"/api/v1/stream?token={token}"
    with connect(url, open_timeout=10) as ws:
        with server.client() as admin:
            if how == "revoked":
                r = httpx.post(f"{server.base}/api/v1/auth/revoke", json={"token": token}, headers=headers)
                assert r.status_code == 200 and r.json()["revoked"]
            else:
                uid = next(u["id"] for u in admin.get("/users").json()["items"] if u["username"] == name)
                assert admin.delete(f"/users/{uid}").status_code == 200
        code, took = _closed_within(ws, 5)
    assert code == 4401 and took <= 5.0, (code, took)


def test_a_principal_holds_a_bounded_number_of_streams(server):
    headers = add_user(server.services, "many-streams", "viewer", "EA1")
    url = server.base.replace("http", "ws") + f"/api/v1/stream?token={headers['Authorization'][7:]}"
    limit = server.services.settings.stream_max_per_principal
    with contextlib.ExitStack() as stack:
        for _ in range(limit):
            stack.enter_context(connect(url, open_timeout=10))
        with connect(url, open_timeout=10) as extra:
            code, _ = _closed_within(extra, 5)
        assert code == 4429
    deadline = time.monotonic() + 5
    while True:  # a socket closed gives its place back once the server has seen it go
        with connect(url, open_timeout=10) as again:
            try:
                again.recv(timeout=0.5)
            except TimeoutError:
                break  # open and quiet: it holds a place
            except ConnectionClosed:
                assert time.monotonic() < deadline, "closed sockets did not give their places back"


def test_failed_log_ins_elsewhere_never_lock_the_user_out(server):
    add_user(server.services, "op-control-room", "operator", "EA1")
    refused = [_login(server.base, "op-control-room", "not the password", "127.0.0.2").status_code
               for _ in range(100)]
    assert refused[0] == 400 and refused[-1] == 429  # the guesser is slowed down where it guesses
    r = _login(server.base, "op-control-room", PASSWORD, "127.0.0.1")
    assert r.status_code == 200, r.text  # the operator, at their console, is not
