"""POST /api/v1/telemetry: both payload forms, every refusal with its status and reason, and
a mixed batch whose good readings are stored."""

from __future__ import annotations

import time

import pytest

from tests.conftest import build_services, make_settings

NOW = time.time()


def series(client, tag, start=None, end=None, **params):
    params = {"start": start or NOW - 3600, "end": end or NOW + 3600, **params}
    r = client.get(f"/api/v1/sensors/{tag}/series", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_columnar_and_row_forms_are_stored(client):
    r = client.post("/api/v1/telemetry", json={"sensor": ["TK1-LT", "GT1"], "ts": [NOW - 10, NOW - 10],
                                               "value": [5.5, 3.0]})
    assert r.json() == {"accepted": 2, "rejected": []}
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 5))
    r = client.post("/api/v1/telemetry", json={"readings": [
        {"sensor": "TK1-LT", "ts": iso, "value": 6.5, "quality": "uncertain"},
        {"sensor": "TK1-LT", "ts": NOW - 4, "value": 7.5}]})
    assert r.json() == {"accepted": 2, "rejected": []}
    s = series(client, "TK1-LT")
    assert s["value"] == [5.5, 6.5, 7.5]
    assert s["quality"] == ["good", "uncertain", "good"]
    assert s["ts"][1] == pytest.approx(int(NOW - 5), abs=1e-6)


def test_mixed_batch_stores_good_readings_and_names_each_refusal(client):
    body = {
        "sensor": ["TK1-LT", "NOPE", "TK1-LT", "TK1-LT", "TK1-LT", "GT1", "GT1", "TK1-LT"],
        "ts": [NOW - 20, NOW - 20, NOW - 19, NOW - 18, NOW + 3600, NOW - 20, NOW - 20, NOW - 17],
        "value": [4.0, 1.0, None, 25.0, 4.0, 1.0, 2.0, 4.5],
    }
    r = client.post("/api/v1/telemetry", json=body)
    assert r.status_code == 200
    out = r.json()
    assert out["accepted"] == 3
    assert out["rejected"] == [
        {"index": 1, "sensor": "NOPE", "reason": "unknown sensor"},
        {"index": 2, "sensor": "TK1-LT", "reason": "value is not a finite number"},
        {"index": 3, "sensor": "TK1-LT", "reason": "value 25 outside the instrument range 0..20"},
        {"index": 4, "sensor": "TK1-LT",
         "reason": out["rejected"][3]["reason"]},
        {"index": 6, "sensor": "GT1", "reason": "duplicate (sensor, ts) in this batch"},
    ]
    assert out["rejected"][3]["reason"].endswith("is more than 300 s in the future")
    assert series(client, "TK1-LT")["value"] == [4.0, 4.5]
    assert series(client, "GT1")["value"] == [1.0]
    # the same reading again is a duplicate of what is stored
    r = client.post("/api/v1/telemetry", json={"sensor": ["TK1-LT"], "ts": [NOW - 20], "value": [9.0]})
    assert r.json() == {"accepted": 0, "rejected": [
        {"index": 0, "sensor": "TK1-LT", "reason": "duplicate (sensor, ts): already stored"}]}
    assert series(client, "TK1-LT")["value"] == [4.0, 4.5]


def test_late_reading_between_stored_ones_is_accepted(client):
    client.post("/api/v1/telemetry", json={"sensor": ["GT2", "GT2"], "ts": [NOW - 30, NOW - 10], "value": [1, 3]})
    r = client.post("/api/v1/telemetry", json={"sensor": ["GT2"], "ts": [NOW - 20], "value": [2]})
    assert r.json() == {"accepted": 1, "rejected": []}
    assert series(client, "GT2")["value"] == [1, 2, 3]


@pytest.mark.parametrize(("body", "status", "needle"), [
    (b'{"sensor": ["GT1"], "ts": [1], "value": [1.0]', 400, "malformed JSON"),
    (b'not json', 400, "malformed JSON"),
    (b'{"sensor": ["GT1"], "ts": [1], "value": ["high"]}', 422, "$.value[0]"),
    (b'{"sensor": [7], "ts": [1], "value": [1]}', 422, "$.sensor[0]"),
    (b'{"sensor": ["GT1"], "ts": [true], "value": [1]}', 422, "$.ts[0]"),
    (b'{"sensor": ["GT1"], "ts": ["yesterday"], "value": [1]}', 422, "$.ts[0]"),
    (b'{"sensor": ["GT1"], "ts": [1], "value": [1], "quality": ["ok"]}', 422, "$.quality[0]"),
    (b'{"sensor": ["GT1", "GT2"], "ts": [1], "value": [1, 2]}', 422, "`$.ts` has 1 items"),
    (b'{"sensor": ["GT1"], "value": [1]}', 422, "`$.ts`"),
    (b'{"readings": [{"sensor": "GT1", "ts": 1}]}', 422, "value"),
    (b'{"readings": [{"sensor": "GT1", "ts": 1, "value": 2, "extra": 1}]}', 422, "extra"),
    (b'{"readings": [{"sensor": "GT1", "ts": "2026-13-45", "value": 2}]}', 422, "$.readings[0].ts"),
    (b'[1, 2]', 422, "Expected `object`"),
])
def test_malformed_or_wrongly_typed_bodies_name_the_field(client, body, status, needle):
    r = client.post("/api/v1/telemetry", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_batch_over_the_limit_is_413(tmp_path):
    from fastapi.testclient import TestClient

    from hazwatch.app import make_api
    from tests.conftest import TOKEN

    settings = make_settings(tmp_path, max_batch_readings=3)
    with TestClient(make_api(build_services(settings)), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        r = c.post("/api/v1/telemetry", json={"sensor": ["GT1"] * 4, "ts": [1, 2, 3, 4], "value": [1] * 4})
        assert r.status_code == 413
        assert "4 readings" in r.json()["detail"] and "limit is 3" in r.json()["detail"]
        r = c.post("/api/v1/telemetry", json={"readings": [{"sensor": "GT1", "ts": i, "value": 1} for i in range(4)]})
        assert r.status_code == 413
        ok = c.post("/api/v1/telemetry", json={"sensor": ["GT1"] * 3, "ts": [NOW - 3, NOW - 2, NOW - 1],
                                               "value": [1] * 3})
        assert ok.json()["accepted"] == 3


def test_body_over_the_byte_limit_is_413(tmp_path):
    from fastapi.testclient import TestClient

    from hazwatch.app import make_api
    from tests.conftest import TOKEN

    settings = make_settings(tmp_path, max_body_bytes=100)
    with TestClient(make_api(build_services(settings)), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        r = c.post("/api/v1/telemetry", json={"sensor": ["GT1"] * 20, "ts": list(range(20)), "value": [1] * 20})
        assert r.status_code == 413


def test_every_call_needs_a_valid_token(client):
    for method, url in [("get", "/api/v1/sensors"), ("get", "/api/v1/alarms"),
                        ("post", "/api/v1/telemetry"), ("get", "/api/v1/sensors/GT1/series")]:
        r = getattr(client, method)(url, headers={"Authorization": ""})
        assert r.status_code == 401, url
        r = getattr(client, method)(url, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401, url
    assert client.get("/healthz", headers={"Authorization": ""}).status_code == 200
