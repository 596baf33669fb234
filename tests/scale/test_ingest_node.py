"""An ingest node acknowledges only what JetStream holds: with the stream gone it says so (503),
and once the server is back the same request goes through."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import build, make_api
from hazwatch.scale.api import ApiNode
from hazwatch.services import Writer
from tests.conftest import DATA, TOKEN, eventually, make_settings
from tests.scale.conftest import prepare, wait_jetstream

pytestmark = pytest.mark.slow


def test_no_stream_no_acknowledgement(nats_single, pg_database, tmp_path):
    prepare(pg_database, tmp_path, DATA / "catalog.yaml")
    services = build(make_settings(tmp_path, database_url=pg_database, role="ingest", nats_url=nats_single.url))
    services.auth.ensure_admin(TOKEN)
    services.pipeline.timeout_s = 2.0
    assert isinstance(services.pipeline, Writer)  # what stands where the pipeline stands, in this role too
    api = ApiNode(services.engine, services.catalog, services.pipeline.clock, services.bus, nats_single.url, "api-w",
                  4, 1)
    assert isinstance(api, Writer)  # and in the api role
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


def test_a_restarted_ingest_node_is_not_taken_for_a_repeat(nats_single, pg_database, tmp_path):
    """JetStream drops a message whose id it saw in the last two minutes: a node restarted under the
    same name must not reuse its message ids, or its first batches would vanish though accepted."""
    import asyncio

    import nats

    prepare(pg_database, tmp_path, DATA / "catalog.yaml")
    for run in range(2):  # the same node, started twice
        services = build(make_settings(tmp_path / f"run{run}", database_url=pg_database, role="ingest",
                                       nats_url=nats_single.url, node_id="ingest-a"))
        services.auth.ensure_admin(TOKEN)
        with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            r = http.post("/api/v1/telemetry", json={"sensor": ["TK1-LT"], "ts": [time.time()], "value": [5.0]})
            assert r.status_code == 200 and r.json()["accepted"] == 1

    async def held() -> int:
        nc = await nats.connect(nats_single.url)
        try:
            return (await nc.jetstream().stream_info("HZ_TEL")).state.messages
        finally:
            await nc.close()
    assert asyncio.run(held()) == 2  # no worker runs: both batches wait in the stream
