"""Senders that get it wrong or mean harm, over HTTP and MQTT: a clock running ahead, malformed,
deeply nested, oversized and mistyped payloads. Each is refused with a reason that names what was
wrong, nothing crashes, and good readings sent beside them are stored."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from tests.conftest import DATA, TOKEN, build_services, make_settings
from tests.integration.test_mqtt_ingest import Publisher, mosquitto_service, purge_session, until

API = "/api/v1"
SKEW_S = 600  # the sender's clock runs ten minutes ahead; the window is 300 s


def test_a_clock_running_ahead_is_refused_over_http(client):
    now = time.time()
    r = client.post(f"{API}/telemetry", json={"sensor": ["GT2", "GT2"], "ts": [now + SKEW_S, now + 60],
                                               "value": [1.0, 2.0]})
    assert r.status_code == 200
    out = r.json()
    assert out["accepted"] == 1  # a minute ahead is inside the window
    assert [x["index"] for x in out["rejected"]] == [0]
    assert out["rejected"][0]["reason"].endswith("is more than 300 s in the future")


@pytest.mark.parametrize(("body", "status", "needle"), [
    (b"{not json", 400, "malformed JSON"),
    (b'{"sensor":' + b"[" * 100_000 + b"]" * 100_000 + b"}", 422, "invalid telemetry"),  # nesting past reason
    (json.dumps({"sensor": [["GT2"]], "ts": [1.0], "value": [1.0]}).encode(), 422, "sensor"),
    (json.dumps({"sensor": ["GT2"], "ts": [{"$gt": 0}], "value": [1.0]}).encode(), 422, "ts"),
    (json.dumps({"sensor": ["GT2"], "ts": [1.0], "value": ["1; DROP TABLE readings"]}).encode(), 422, "value"),
    (json.dumps({"sensor": ["GT2"] * 3, "ts": [1.0], "value": [1.0]}).encode(), 422, "items"),
    (b"\xff\xfe\x00garbage", 400, "malformed JSON"),
])
def test_hostile_http_bodies_are_refused_with_a_reason(client, body, status, needle):
    r = client.post(f"{API}/telemetry", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]
    # and the server still takes good readings
    ok = client.post(f"{API}/telemetry", json={"sensor": ["GT2"], "ts": [time.time()], "value": [3.0]})
    assert ok.status_code == 200 and ok.json()["accepted"] == 1


@pytest.mark.services
def test_hostile_mqtt_messages_are_counted_by_reason_and_the_rest_stored(tmp_path):
    port = mosquitto_service()
    client_id = f"hz-test-{uuid.uuid4().hex[:8]}"
    services = build_services(make_settings(tmp_path, mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_client_id=client_id),
                              DATA / "tenants.yaml")
    adapter = next(a for a in services.adapters if a.name == "mqtt")
    pub = None
    topic = "hz/v1/EA1/D-EA1/telemetry"
    try:
        with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            assert until(adapter.connected, 15), adapter.health()
            pub = Publisher(port, f"{client_id}-dev")
            now = time.time()
            pub.send(topic, b"{not json")
            pub.send(topic, b'{"sensor":' + b"[" * 50_000 + b"]" * 50_000 + b"}")
            pub.send(topic, json.dumps({"sensor": ["T-EA1"], "ts": ["yesterday"], "value": [1.0]}))
            pub.send(topic, json.dumps({"sensor": ["T-EA1"] * 200_001, "ts": [now] * 200_001,
                                        "value": [1.0] * 200_001}))  # over the per-message limit
            pub.send(topic, json.dumps({"sensor": ["T-EA1"], "ts": [now + SKEW_S], "value": [1.0]}))
            pub.send("hz/v1/EA1/NO-SUCH-DEVICE/telemetry",
                     json.dumps({"sensor": ["T-EA1"], "ts": [now], "value": [1.0]}))
            pub.send(topic, json.dumps({"sensor": ["T-EA1"], "ts": [now], "value": [7.0]}))  # the good one

            def stored():
                s = api.get(f"{API}/sensors/T-EA1/series", params={"start": now - 60, "end": now + 60}).json()
                return s["value"] or None

            assert until(stored) == [7.0]
            reasons = until(lambda: (r := adapter.health().as_dict()["rejected_by_reason"]).get(
                "timestamp in the future (sender's clock ahead?)") and r)
            assert reasons, adapter.health().as_dict()["rejected_by_reason"]
            assert reasons.get("malformed JSON") == 1
            assert reasons.get("invalid telemetry") == 1
            assert reasons.get("`$.ts[0]`") == 1  # "yesterday" is no timestamp
            assert sum(v for k, v in reasons.items() if "readings in one request" in k) == 1
            assert reasons.get("sensor on another device than the sender's") == 1  # the topic names no device
            assert adapter.health().state == "running"
    finally:
        if pub is not None:
            pub.close()
        purge_session(port, client_id)
