"""An ingest node acknowledges only what JetStream holds: with the stream gone it says so (503),
and once the server is back the same request goes through."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import build, make_api
from tests.conftest import DATA, TOKEN, eventually, make_settings
from tests.scale.conftest import prepare, wait_jetstream

pytestmark = pytest.mark.slow


def test_no_stream_no_acknowledgement(nats_single, pg_database, tmp_path):
    prepare(pg_database, tmp_path, DATA / "catalog.yaml")
    services = build(make_settings(tmp_path, database_url=pg_database, role="ingest", nats_url=nats_single.url))
    services.auth.ensure_admin(TOKEN)
    services.pipeline.timeout_s = 2.0
    body = {"sensor": ["TK1-LT", "GT1", "NOPE"], "ts": [time.time()] * 3, "value": [5.0, 1.0, 1.0]}
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        r = http.post("/api/v1/telemetry", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 2 and r.json()["rejected"][0]["reason"] == "unknown sensor"
        assert http.get("/readyz").status_code == 200

        nats_single.stop()
        r = http.post("/api/v1/telemetry", json=body | {"ts": [time.time()] * 3})
        assert r.status_code == 503 and "send them again" in r.json()["detail"], r.text
        assert eventually(lambda: http.get("/readyz").status_code == 503, 10)

        nats_single.start()
        wait_jetstream(nats_single.url, 1)
        again = eventually(lambda: (x := http.post("/api/v1/telemetry", json=body)).status_code == 200 and x, 20)
        assert again and again.json()["accepted"] == 2
