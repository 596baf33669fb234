"""Signed device batches: a batch signed with the device's key is stored; a forged or altered one
and a replayed old one are refused, and the answer says why; where signing is required an unsigned
device batch is refused too."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.auth import Principal, Scope
from hazwatch.auth.signing import SEQUENCE_HEADER, SIGNATURE_HEADER, sign
from tests.conftest import DATA, TOKEN, build_services, make_settings


@pytest.fixture
def device(tmp_path, request):
    settings = make_settings(tmp_path, require_signed_batches=getattr(request, "param", False))
    services = build_services(settings, DATA / "tenants.yaml")
    secret = services.device_credentials.issue(Principal(None, "t", "admin", None), Scope(None), "D-EA1",
                                               "gateway")["secret"]
    with TestClient(make_api(services)) as c:
        yield c, secret


def batch(value: float, at: float) -> bytes:
    return json.dumps({"sensor": ["T-EA1"], "ts": [at], "value": [value]}).encode()


def post(c, secret, body, seq=None, signature=None):
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    if seq is not None:
        headers[SEQUENCE_HEADER] = str(seq)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return c.post("/api/v1/telemetry", content=body, headers=headers)


def stored(c) -> list[float]:
    return c.get("/api/v1/sensors/T-EA1/series", params={"start": time.time() - 3600},
                 headers={"Authorization": f"Bearer {TOKEN}"}).json()["value"]


def test_signed_batches_in_sequence_are_stored(device):
    c, secret = device
    t = time.time() - 60
    for seq, value in ((1, 1.0), (2, 2.0), (10, 3.0)):
        body = batch(value, t + seq)
        r = post(c, secret, body, seq, sign(secret, seq, body))
        assert r.status_code == 200 and r.json()["accepted"] == 1
    assert stored(c) == [1.0, 2.0, 3.0]


def test_forged_and_altered_batches_are_refused(device):
    c, secret = device
    t = time.time() - 60
    body = batch(5.0, t)
    forged = post(c, secret, body, 1, sign("hzd_someone-elses-secret", 1, body))
    assert forged.status_code == 401 and "forged or altered" in forged.json()["detail"]
    altered = post(c, secret, batch(50.0, t), 1, sign(secret, 1, body))  # signed 5.0, says 50.0
    assert altered.status_code == 401 and "forged or altered" in altered.json()["detail"]
    moved = post(c, secret, body, 2, sign(secret, 1, body))  # the sequence is signed too
    assert moved.status_code == 401
    assert stored(c) == []


def test_a_replayed_batch_is_refused(device):
    c, secret = device
    t = time.time() - 60
    first = batch(7.0, t)
    assert post(c, secret, first, 5, sign(secret, 5, first)).status_code == 200
    later = batch(8.0, t + 1)
    assert post(c, secret, later, 6, sign(secret, 6, later)).status_code == 200
    replay = post(c, secret, first, 5, sign(secret, 5, first))
    assert replay.status_code == 409 and "replayed batch: sequence 5 is not above 6" in replay.json()["detail"]
    old_new = batch(9.0, t + 2)  # a genuine new batch with an old sequence is a replay as well
    assert post(c, secret, old_new, 6, sign(secret, 6, old_new)).status_code == 409
    assert stored(c) == [7.0, 8.0]


def test_half_signed_batches_are_refused(device):
    c, secret = device
    body = batch(1.0, time.time() - 5)
    assert post(c, secret, body, seq=3).status_code == 401
    assert post(c, secret, body, signature=sign(secret, 3, body)).status_code == 401
    assert post(c, secret, body).status_code == 200  # unsigned is fine unless required


@pytest.mark.parametrize("device", [True], indirect=True)
def test_unsigned_device_batches_are_refused_when_required(device):
    c, secret = device
    body = batch(1.0, time.time() - 5)
    r = post(c, secret, body)
    assert r.status_code == 401 and "unsigned batch" in r.json()["detail"]
    assert post(c, secret, body, 1, sign(secret, 1, body)).status_code == 200


def test_a_database_dump_signs_no_batch(tmp_path):
    """What the database keeps of a device secret (its digest, its wrapped signing key) does not
    sign a batch; the server's key file, kept outside the database, unwraps the key for MQTT."""
    from sqlalchemy import select

    from hazwatch.auth.models import ApiToken
    from hazwatch.domain.signing import key_of, sign_with_key

    services = build_services(make_settings(tmp_path), DATA / "tenants.yaml")
    issued = services.device_credentials.issue(Principal(None, "t", "admin", None), Scope(None), "D-EA1", "gw")
    secret = issued["secret"]
    with services.engine.connect() as conn:
        row = conn.execute(select(ApiToken.token_sha256, ApiToken.sign_key, ApiToken.device_id)
                           .where(ApiToken.id == issued["id"])).one()
    body = batch(7.0, time.time() - 30)
    with TestClient(make_api(services)) as c:
        for dumped in (row.token_sha256, row.sign_key):  # either, used as the key, is refused
            r = post(c, secret, body, 1, sign_with_key(bytes.fromhex(dumped), 1, body))
            assert r.status_code == 401 and "forged or altered" in r.json()["detail"]
        assert post(c, secret, body, 1, sign(secret, 1, body)).status_code == 200
    assert services.signatures.device_key(issued["id"], row.device_id) == key_of(secret)
    assert (tmp_path / "data" / "device-signing.key").exists()
