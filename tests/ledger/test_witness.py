"""The witness's add-checkpoint protocol (c2sp.org/tlog-witness), status code by status code, over
HTTP; and a log that rewrites its history gets no cosignature."""

import base64
import json

import httpx

from hazwatch.ledger.merkle import consistency_proof, leaf_hash, memory_nodes, root_from_leaves
from hazwatch.ledger.note import Checkpoint, Signer, parse_note, verified_by
from hazwatch.ledger.witness import Witness, WitnessRefused

LOG = Signer.generate("example.com/log")
LEAVES = [leaf_hash(b"%d" % i) for i in range(40)]


def signed(size: int, leaves=LEAVES, key=LOG) -> str:
    text = Checkpoint(key.name, size, root_from_leaves(leaves[:size])).text()
    return text + "\n" + key.sign_line(text)


def body(old: int, size: int, leaves=LEAVES, key=LOG, proof=None) -> bytes:
    if proof is None:
        proof = consistency_proof(memory_nodes(leaves), old, size) if old else []
    return (f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof) + "\n"
            + signed(size, leaves, key)).encode()


def post(client, data: bytes) -> httpx.Response:
    return httpx.post(f"{client.url}/add-checkpoint", content=data, timeout=5)


def test_cosigns_a_growing_log_and_keeps_its_state(witnesses, tmp_path):
    client, key, _w = witnesses(LOG.verifier, "park")
    r = post(client, body(0, 10))
    assert r.status_code == 200
    note = parse_note(signed(10).split("\n\n")[0] + "\n\n" + r.text)
    assert set(verified_by(note, [key.verifier])) == {key.name}
    assert post(client, body(10, 25)).status_code == 200
    state = json.loads((tmp_path / "park.state.json").read_text())
    assert state["example.com/log"]["size"] == 25
    # a restarted witness remembers where it was
    again = Witness(key, [LOG.verifier], tmp_path / "park.state.json")
    assert again.add_checkpoint(body(25, 30)).status == 200


def test_wrong_old_size_answers_409_with_the_size_it_knows(witnesses):
    client, _key, _w = witnesses(LOG.verifier, "park")
    assert post(client, body(0, 10)).status_code == 200
    r = post(client, body(5, 20))
    assert r.status_code == 409 and r.text == "10\n" and r.headers["content-type"].startswith("text/x.tlog.size")


def test_a_log_that_rewrote_history_is_refused_422(witnesses):
    client, _key, _w = witnesses(LOG.verifier, "regulator")
    assert post(client, body(0, 20)).status_code == 200
    rewritten = LEAVES[:7] + [leaf_hash(b"quietly changed")] + LEAVES[8:]
    r = post(client, body(20, 30, leaves=rewritten))
    assert r.status_code == 422 and "does not verify" in r.text
    # and it keeps the honest state: the honest continuation is still cosigned
    assert post(client, body(20, 30)).status_code == 200


def test_a_fork_at_the_same_size_is_refused_409(witnesses):
    client, _key, _w = witnesses(LOG.verifier, "regulator")
    assert post(client, body(0, 20)).status_code == 200
    forked = LEAVES[:19] + [leaf_hash(b"other")]
    assert post(client, body(20, 20, leaves=forked)).status_code == 409
    assert post(client, body(20, 20)).status_code == 200  # the same checkpoint again is fine


def test_unknown_log_bad_signature_and_malformed_requests(witnesses):
    client, _key, _w = witnesses(LOG.verifier, "park")
    stranger = Signer.generate("example.com/other")
    assert post(client, body(0, 3, key=stranger)).status_code == 404
    impostor = Signer.generate("example.com/log")  # the log's name, another key
    assert post(client, body(0, 3, key=impostor)).status_code == 403
    assert post(client, body(0, 3).replace(b"\n3\n", b"\n4\n")).status_code in (403, 400)
    assert post(client, b"old 0\n").status_code == 400
    assert post(client, b"old 007\n\n" + signed(3).encode()).status_code == 400
    assert post(client, body(0, 3).replace(b"old 0", b"old 9")).status_code == 400  # old above the size
    assert post(client, b"old 0\nAAAA\n\n" + signed(3).encode()).status_code == 422  # proof from 0 must be empty


def test_the_client_reports_refusals_with_their_status(witnesses):
    client, _key, _w = witnesses(LOG.verifier, "park")
    client.add_checkpoint(0, [], signed(10))
    try:
        client.add_checkpoint(3, [], signed(12))
    except WitnessRefused as e:
        assert e.status == 409 and e.body.strip() == "10"
    else:
        raise AssertionError("a wrong old size must be refused")


def test_the_witness_refuses_a_large_body_before_reading_it(witnesses):
    """A declared length over 64 KiB is refused at once; a chunked body is cut off at the limit."""
    client, _key, _w = witnesses(Signer.generate("log.example/big").verifier, "big")
    url = f"{client.url}/add-checkpoint"
    declared = httpx.post(url, content=b"x" * (64 * 1024 + 1))
    assert declared.status_code == 413

    def chunks():
        for _ in range(1000):  # 64 MiB if it were all read
            yield b"x" * 65536

    chunked = httpx.post(url, content=chunks(), timeout=30)
    assert chunked.status_code == 413
