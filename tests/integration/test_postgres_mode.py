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
