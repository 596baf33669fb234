"""The key commands, and a witness run as its own process with `hazwatch witness serve`."""

import os
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from hazwatch.cli.main import app as cli
from hazwatch.ledger.merkle import leaf_hash, root_from_leaves
from hazwatch.ledger.note import COSIGNATURE_V1, Checkpoint, Signer, Verifier
from tests.incidents.helpers import free_port


def test_keygen_writes_a_private_key_file_and_prints_the_verifier_key(tmp_path):
    out = tmp_path / "w.key"
    r = CliRunner().invoke(cli, ["ledger", "keygen", "regulator.example/witness", "--witness", "-o", str(out)])
    assert r.exit_code == 0, r.output
    v = Verifier.parse(r.output.strip())
    s = Signer.parse(out.read_text())
    assert v == s.verifier and v.sig_type == COSIGNATURE_V1 and oct(out.stat().st_mode & 0o777) == "0o600"
    again = CliRunner().invoke(cli, ["ledger", "keygen", "x.example", "-o", str(out)])
    assert again.exit_code == 2 and "never overwritten" in again.output


def test_vkey_and_prove_explain_what_is_missing(tmp_path):
    r = CliRunner().invoke(cli, ["ledger", "vkey", "--data-dir", str(tmp_path)])
    assert r.exit_code == 2 and "no log key" in r.output
    r = CliRunner().invoke(cli, ["ledger", "verify", "--log-vkey", "nonsense"])
    assert r.exit_code == 2 and "neither a verifier key" in r.output


def test_witness_serve_as_its_own_process(tmp_path):
    log = Signer.generate("plant.example/ledger")
    key = tmp_path / "w.key"
    assert CliRunner().invoke(cli, ["ledger", "keygen", "park.example/w", "--witness", "-o", str(key)]).exit_code == 0
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hazwatch.cli.main", "witness", "serve", "--key", str(key),
                             "--log-vkey", log.verifier.vkey, "--state", str(tmp_path / "state.json"),
                             "--port", str(port)], env={**os.environ}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        vkey, deadline = None, time.monotonic() + 60  # a cold start of the command on a loaded machine
        while vkey is None and proc.poll() is None and time.monotonic() < deadline:
            try:
                vkey = httpx.get(f"http://127.0.0.1:{port}/vkey", timeout=1).text.strip()
            except httpx.HTTPError:
                time.sleep(0.05)
        assert vkey is not None, f"the witness did not answer (exit {proc.poll()})"
        assert vkey == Signer.parse(key.read_text()).verifier.vkey
        leaves = [leaf_hash(b"a"), leaf_hash(b"b")]
        text = Checkpoint(log.name, 2, root_from_leaves(leaves)).text()
        r = httpx.post(f"http://127.0.0.1:{port}/add-checkpoint",
                       content=("old 0\n\n" + text + "\n" + log.sign_line(text)).encode())
        assert r.status_code == 200 and r.text.startswith("\u2014 park.example/w ")
        assert '"size": 2' in (tmp_path / "state.json").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
