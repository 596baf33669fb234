"""Single-site mode: one setting (HAZWATCH_DATABASE_URL) puts relational state and telemetry on
PostgreSQL; the same API behaves the same."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from hazwatch.app import make_api
from tests.conftest import TOKEN, build_services, make_settings


def test_ingest_alarm_and_restart_on_postgresql(tmp_path, pg_database):
    settings = make_settings(tmp_path, database_url=pg_database)
    assert settings.store_url == pg_database and settings.relational_url.startswith("postgresql+psycopg://")
    now = time.time()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(make_api(build_services(settings)), headers=headers) as c:
        r = c.post("/api/v1/telemetry", json={"sensor": ["TK1-LT", "TK1-LT", "NOPE"], "ts": [now - 2, now - 1, now],
                                               "value": [5.0, 18.9, 1.0]})
        assert r.json()["accepted"] == 2 and r.json()["rejected"][0]["reason"] == "unknown sensor"
        active = c.get("/api/v1/alarms").json()["items"]
        assert [a["condition"] for a in active] == ["HH", "H"]
        assert c.post(f"/api/v1/alarms/{active[0]['id']}/ack", json={}).status_code == 200
    # a new process on the same database finds readings and alarm states
    with TestClient(make_api(build_services(settings, catalog=None)), headers=headers) as c:
        s = c.get("/api/v1/sensors/TK1-LT/series", params={"start": now - 10, "end": now + 10}).json()
        assert s["value"] == [5.0, 18.9]
        states = {a["condition"]: a["state"] for a in c.get("/api/v1/alarms").json()["items"]}
        assert states == {"HH": "active_acknowledged", "H": "active_unacknowledged"}
        r = c.post("/api/v1/telemetry", json={"sensor": ["TK1-LT"], "ts": [now - 1], "value": [3.0]})
        assert r.json()["rejected"][0]["reason"] == "duplicate (sensor, ts): already stored"


def test_text_postgresql_cannot_hold_is_refused_not_half_applied(tmp_path, pg_database):
    """PostgreSQL text cannot hold NUL: the request answers 422 and nothing changes, in the database
    or in the alarm state the writer keeps in memory."""
    settings = make_settings(tmp_path, database_url=pg_database)
    with TestClient(make_api(build_services(settings)), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        c.post("/api/v1/telemetry", json={"sensor": ["TK1-LT"], "ts": [time.time()], "value": [19.0]})
        hh = c.get("/api/v1/alarms").json()["items"][0]
        r = c.post(f"/api/v1/alarms/{hh['id']}/ack", json={"comment": "seen\u0000"})
        assert r.status_code == 422 and "NUL" in r.json()["detail"]
        assert c.get(f"/api/v1/alarms/{hh['id']}").json()["acknowledged"] is False
        assert c.post(f"/api/v1/alarms/{hh['id']}/ack", json={"comment": "seen"}).status_code == 200
        n = len(c.get("/api/v1/orgs").json()["items"])
        assert c.post("/api/v1/orgs", json={"name": "bad\u0000name", "kind": "region"}).status_code == 422
        assert len(c.get("/api/v1/orgs").json()["items"]) == n
        assert c.get("/api/v1/audit", params={"actor": "a\u0000b"}).status_code == 422
