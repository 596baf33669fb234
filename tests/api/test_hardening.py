"""Request size and rate limits, security headers, CORS closed by default, secrets kept out of
logs and settings' repr."""

from __future__ import annotations

import logging
import time

from fastapi.testclient import TestClient

from hazwatch.app import make_api
from tests.conftest import TOKEN, build_services, make_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def client_for(tmp_path, **kw) -> TestClient:
    return TestClient(make_api(build_services(make_settings(tmp_path, **kw))), headers=AUTH)


def test_security_headers_on_every_answer(client):
    for r in (client.get("/api/v1/sensors"), client.get("/api/v1/nothing-here"), client.get("/healthz"),
              client.get("/api/v1/sensors", headers={"Authorization": "Bearer wrong"})):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in r.headers  # only over HTTPS


def test_hsts_over_https(services):
    with TestClient(make_api(services), base_url="https://testserver", headers=AUTH) as c:
        assert c.get("/healthz").headers["strict-transport-security"].startswith("max-age=")


def test_interactive_docs_that_load_from_a_cdn_are_off(client):
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_oversized_bodies_answer_413(tmp_path):
    with client_for(tmp_path, max_request_bytes=1000, max_body_bytes=5000) as c:
        big = {"label": "x" * 2000}
        r = c.post("/api/v1/auth/keys", json=big)
        assert r.status_code == 413 and "limit for /api/v1/auth/keys is 1000 bytes" in r.json()["detail"]
        # telemetry has the larger limit: 2 kB passes the size check, 6 kB does not
        ok = c.post("/api/v1/telemetry", json={"sensor": ["GT1"] * 40, "ts": [time.time()] * 40, "value": [1] * 40})
        assert ok.status_code == 200
        r = c.post("/api/v1/telemetry", content=b"[" + b" " * 6000 + b"]",
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        # a chunked body (no Content-Length) is counted as it streams
        r = c.post("/api/v1/auth/keys", content=iter([b'{"label": "', b"y" * 1500, b'"}']),
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 413


def test_rate_limit_answers_429_with_retry_after(tmp_path):
    with client_for(tmp_path, rate_limit_rps=0.2, rate_limit_burst=3) as c:
        c.get("/api/v1/sensors")  # a credential's first use is looked up, and counts against its address
        codes = [c.get("/api/v1/sensors").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]  # from then on it has a bucket of its own
        r = c.get("/api/v1/sensors")
        assert r.status_code == 429 and r.headers["retry-after"] == "5"
        assert "rate limit of 0.2 requests/s" in r.json()["detail"]
        # made-up bearer values are no principal: they share their address's bucket (2 of 3 left)
        made_up = [c.get("/api/v1/sensors", headers={"Authorization": f"Bearer made-up-{i}"}).status_code
                   for i in range(3)]
        assert made_up == [401, 401, 429]
        assert c.get("/healthz").status_code == 200  # health checks are never limited


def test_logins_have_a_stricter_limit_per_client_address(tmp_path):
    with client_for(tmp_path, login_rate_limit_rps=0.5, login_rate_limit_burst=2) as c:
        form = {"grant_type": "password", "username": "admin", "password": "not-the-password"}
        codes = [c.post("/api/v1/auth/token", data=form, headers={"Authorization": f"Bearer k{i}"}).status_code
                 for i in range(3)]
        assert codes == [400, 400, 429]  # a new Authorization header per try does not reset it
        assert c.get("/api/v1/sensors").status_code == 200  # the rest of the API is not affected


def test_cors_is_closed_by_default(client):
    pre = client.options("/api/v1/sensors", headers={"Origin": "https://evil.example",
                                                     "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in pre.headers
    r = client.get("/api/v1/sensors", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_opens_only_to_configured_origins(tmp_path):
    with client_for(tmp_path, cors_origins=["https://console.example"]) as c:
        ok = c.options("/api/v1/sensors", headers={"Origin": "https://console.example",
                                                   "Access-Control-Request-Method": "GET"})
        assert ok.headers["access-control-allow-origin"] == "https://console.example"
        other = c.get("/api/v1/sensors", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_secrets_stay_out_of_repr_and_logs(tmp_path, caplog):
    settings = make_settings(tmp_path)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())
    caplog.set_level(logging.DEBUG)
    with client_for(tmp_path) as c:
        c.post("/api/v1/auth/token", data={"grant_type": "password", "username": "admin", "password": "s3cret-pass"},
               headers={"Authorization": ""})
        c.get("/api/v1/sensors")
    assert TOKEN not in caplog.text and "s3cret-pass" not in caplog.text


def test_a_webhook_url_no_client_could_call_is_refused(tmp_path):
    client = client_for(tmp_path, outbound_allow=["::1/128"])  # an intranet receiver admitted on purpose
    prefs = "/api/v1/me/notification-preferences"
    for bad, why in (("http://[oops", "not a URL"), ("http://:80/x", "names no host"),
                     ("https://plant.example:99999/hook", "not a URL")):
        r = client.put(prefs, json={"channels": ["in_app", "webhook"], "webhook_url": bad})
        assert r.status_code == 422 and why in r.json()["detail"], (bad, r.text)
    ok = client.put(prefs, json={"channels": ["in_app", "webhook"], "webhook_url": "https://[::1]:8443/hook"})
    assert ok.status_code == 200 and ok.json()["webhook_url"] == "https://[::1]:8443/hook"
