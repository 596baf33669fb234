"""The edge gateway's MQTT uplink: spooled batches travel as signed envelopes on the gateway's own
topic; the platform stores them, and refuses a forged and a replayed envelope, saying why."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import uuid

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.auth import Principal, Scope
from hazwatch.domain.batch import US
from hazwatch.domain.signing import sign
from hazwatch.ingest.edge import EdgeConfig, EdgeGateway
from hazwatch.normalize import RawBatch
from tests.conftest import DATA, TOKEN, build_services, make_settings
from tests.integration.test_mqtt_ingest import Publisher, mosquitto_service, purge_session, until

pytestmark = pytest.mark.services


def raw(tag: str, values: list[float], t0: float) -> RawBatch:
    n = len(values)
    return RawBatch([tag] * n, np.full(n, -1, np.int32), np.array([round((t0 + i) * US) for i in range(n)]),
                    np.array(values, float), np.zeros(n, np.int8))


def test_signed_envelopes_over_mqtt(tmp_path):
    port = mosquitto_service()
    client_id = f"hz-edge-{uuid.uuid4().hex[:6]}"
    services = build_services(make_settings(tmp_path, mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_client_id=client_id),
                              DATA / "tenants.yaml")
    cred = services.device_credentials.issue(Principal(None, "t", "admin", None), Scope(None), "D-EA1", "gw")
    adapter = next(a for a in services.adapters if a.name == "mqtt")
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    gateway = EdgeGateway(EdgeConfig.model_validate({
        "uplink": {"url": f"mqtt://127.0.0.1:{port}", "enterprise": "EA1", "device": "D-EA1",
                   "credential": cred["id"], "secret": cred["secret"], "max_backoff_s": 1},
        "spool": {"dir": str(tmp_path / "spool")}}))
    try:
        with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            assert until(adapter.connected, 15)
            asyncio.run_coroutine_threadsafe(gateway.start(), loop).result(10)
            t0 = time.time() - 300
            gateway.take(raw("T-EA1", [1.0, 2.0, 3.0], t0))
            gateway.take(raw("T-EA1", [4.0], t0 + 10))

            def values():
                window = {"start": t0 - 1, "end": t0 + 100}
                return api.get("/api/v1/sensors/T-EA1/series", params=window).json()["value"]

            assert until(lambda: values() == [1.0, 2.0, 3.0, 4.0]), values()
            # someone on the wire: a forged envelope and a replay of an old one
            body = orjson.dumps({"sensor": ["T-EA1"], "ts": [t0 + 20], "value": [99.0]})
            pub = Publisher(port, f"{client_id}-wire")
            forged = {"signed": {"credential": cred["id"], "sequence": 10**9, "signature": sign("not-it", 10**9, body),
                                 "body": base64.b64encode(body).decode()}}
            pub.send("hz/v1/EA1/D-EA1/telemetry", json.dumps(forged))
            old = {"signed": {"credential": cred["id"], "sequence": 1, "signature": sign(cred["secret"], 1, body),
                              "body": base64.b64encode(body).decode()}}
            pub.send("hz/v1/EA1/D-EA1/telemetry", json.dumps(old))
            pub.close()
            h = until(lambda: (x := adapter.health().as_dict()["rejected_by_reason"]).get("replayed batch") and x)
            assert h["signature does not match the batch"] == 1 and h["replayed batch"] == 1, h
            assert values() == [1.0, 2.0, 3.0, 4.0]
    finally:
        asyncio.run_coroutine_threadsafe(gateway.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        purge_session(port, client_id)
