"""The log over HTTP: tlog-tiles paths without a token, the status and proofs with one."""

import base64

import orjson
import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.ledger.note import open_checkpoint
from hazwatch.ledger.proof import verify_proof
from tests.conftest import TOKEN, build_services, make_settings


@pytest.fixture
def api(tmp_path):
    services = build_services(make_settings(tmp_path, ledger_enabled=True, ledger_interval_s=3600))
    with TestClient(make_api(services)) as c:
        yield c, services


def test_nothing_published_yet_is_a_clear_404(api):
    c, _ = api
    r = c.get("/ledger/checkpoint")
    assert r.status_code == 404 and "no checkpoint is published yet" in r.json()["detail"]


def test_tiles_and_checkpoint_are_public_and_proofs_need_a_token(api):
    c, services = api
    with services.engine.begin() as conn:
        services.ledger.append(conn, [services.ledger.entry("test", "t", n=i) for i in range(300)])
    services.ledger.integrate()
    assert services.ledger.cosign()
    cp = c.get("/ledger/checkpoint")
    assert cp.status_code == 200 and cp.headers["content-type"].startswith("text/plain")
    checkpoint, _, _ = open_checkpoint(cp.text, services.ledger.signer.verifier)
    assert checkpoint.size == services.ledger.size
    full = c.get("/ledger/tile/0/000")
    assert full.status_code == 200 and len(full.content) == 8192 and "immutable" in full.headers["cache-control"]
    w = services.ledger.size - 256
    assert len(c.get(f"/ledger/tile/0/001.p/{w}").content) == 32 * w
    assert c.get("/ledger/tile/entries/000").status_code == 200
    for bad in ("/ledger/tile/0/1", "/ledger/tile/64/000", "/ledger/tile/0/000.p/0", "/ledger/tile/0/../../log.key",
                "/ledger/tile/entries/000.p/256", "/ledger/tile/0/x000/x001"):
        assert c.get(bad).status_code == 404, bad
    assert c.get("/ledger/tile/0/005").status_code == 404  # beyond the tree
    assert c.get("/api/v1/ledger/proof/3").status_code == 401
    h = {"Authorization": f"Bearer {TOKEN}"}
    status = c.get("/api/v1/ledger/status", headers=h).json()
    assert status["size"] == status["published_size"] == services.ledger.size and status["quorum"] == 0
    proof = c.get("/api/v1/ledger/proof/299", headers=h)
    v = verify_proof(proof.text, services.ledger.signer.verifier, [], 0)
    assert v.entry["v"] == 2 and set(v.entry) == {"c", "v"}  # the commitment: the entry is not told
    assert c.get("/api/v1/ledger/proof/999", headers=h).status_code == 404
    extra = next(x for x in proof.text.splitlines() if x.startswith("extra "))
    assert set(orjson.loads(base64.b64decode(extra[6:]))) == {"entry"}


def test_a_turned_off_ledger_says_so(tmp_path):
    services = build_services(make_settings(tmp_path))
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        assert "turned off" in c.get("/ledger/checkpoint").json()["detail"]
        assert "turned off" in c.get("/api/v1/ledger/status").json()["detail"]


def test_a_mirror_follows_the_published_checkpoint_while_the_log_grows(api, tmp_path):
    """Partial tiles of the published checkpoint stay until a later one is published; a client
    that finds one gone cuts it from the full tile, as tlog-tiles says."""
    from hazwatch.ledger.mirror import mirror
    from hazwatch.ledger.verify import verify_log

    c, services = api
    ledger = services.ledger

    def grow(n: int) -> None:
        with services.engine.begin() as conn:
            ledger.append(conn, [ledger.entry("test", "t", n=ledger.size + i) for i in range(n)])
        ledger.integrate()

    grow(300)
    assert ledger.cosign()
    grow(300)  # size 600: tile 0/001 is full now, but the published checkpoint is still 300
    assert (ledger.dir / "tile/0/001.p/44").exists()
    size, _ = mirror("http://testserver/ledger", tmp_path / "m1", client=c)
    assert size == 300 and verify_log(tmp_path / "m1", ledger.signer.verifier, [], 0).ok
    (ledger.dir / "tile/0/001.p/44").unlink()
    (ledger.dir / "tile/entries/001.p/44").unlink()
    size, _ = mirror("http://testserver/ledger", tmp_path / "m2", client=c)
    assert size == 300 and verify_log(tmp_path / "m2", ledger.signer.verifier, [], 0).ok
    assert ledger.cosign()  # 600 published: the partials of full tiles go
    assert not (ledger.dir / "tile/0/000.p").exists() and (ledger.dir / "tile/0/002.p/88").exists()
