"""The acceptance of the ledger, end to end: a plant's records and readings go through the API into
the log, two witnesses (a park's and a regulator's, real HTTP servers) cosign it, and then someone
with access to the database tries to rewrite the past. `hazwatch ledger verify` must fail and name
what was changed; the witnesses must refuse a log that rewrote history or forked."""

from __future__ import annotations

import base64
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hazwatch.app import make_api
from hazwatch.cli.main import app as cli
from hazwatch.ledger.keys import load_signer
from hazwatch.ledger.merkle import consistency_proof, leaf_hashes
from hazwatch.ledger.note import Checkpoint, Signer
from hazwatch.ledger.tiles import MemoryTiles, bundle_path, decode_bundle, encode_bundle
from hazwatch.ledger.witness import WitnessClient, WitnessRefused
from tests.conftest import TOKEN, build_services, make_settings

API = "/api/v1"


@dataclass
class Plant:
    data: Path
    log: Signer
    witnesses: list[WitnessClient]
    vkeys: list[Path]  # log, park, regulator
    journal_row: int  # the HH alarm's "raised" row
    size: int
    alarm_index: int  # the leaf of that row's entry

    def verify(self, *args: str):
        keys = ["--log-vkey", str(self.vkeys[0]), "--witness-vkey", str(self.vkeys[1]),
                "--witness-vkey", str(self.vkeys[2])]
        return CliRunner().invoke(cli, ["ledger", "verify", *keys, *args, "--data-dir", str(self.data)])


@pytest.fixture
def plant(tmp_path: Path, witnesses) -> Plant:
    settings = make_settings(tmp_path, ledger_enabled=True, ledger_interval_s=3600, ledger_window_s=60,
                             ledger_grace_s=0)
    log = load_signer(settings.ledger_path / "log.key", create_as=settings.ledger_origin)
    park, pk, _ = witnesses(log.verifier, "park")
    reg, rk, _ = witnesses(log.verifier, "regulator")
    settings.ledger_witnesses = [f"{park.url} {pk.verifier.vkey}", f"{reg.url} {rk.verifier.vkey}"]
    vkeys = []
    for name, key in (("log", log), ("park", pk), ("regulator", rk)):
        (tmp_path / f"{name}.vkey").write_text(key.verifier.vkey + "\n")
        vkeys.append(tmp_path / f"{name}.vkey")
    services = build_services(settings)
    ledger = services.ledger
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        ledger.integrate()  # telemetry is sealed from the window the ledger started in
        now = time.time()
        # a tank overfills (HH), readings of the minute before: they land in windows already closed
        ts = [now - 90 + i for i in range(30)]
        r = c.post(f"{API}/telemetry", json={"sensor": ["TK1-LT"] * 30, "ts": ts,
                                               "value": [15.0 + i * 0.15 for i in range(30)]})
        assert r.json()["accepted"] == 30
        alarm = next(a for a in c.get(f"{API}/alarms", params={"state": "all"}).json()["items"]
                     if a["sensor"] == "TK1-LT" and a["condition"] == "HH")
        assert c.post(f"{API}/alarms/{alarm['id']}/ack", json={"comment": "operator on the way"}).status_code == 200
        journal = c.get(f"{API}/alarms/{alarm['id']}/journal").json()["items"]
        ledger.integrate()
        assert ledger.cosign()
        # the proof over the API carries the row
        proof = c.get(f"{API}/alarms/{alarm['id']}/journal/{journal[0]['id']}/proof")
        assert proof.status_code == 200 and proof.text.startswith("c2sp.org/tlog-proof@v1\n")
        (tmp_path / "alarm.tlog-proof").write_text(proof.text)
        assert c.get("/ledger/checkpoint").text == (settings.ledger_path / "checkpoint").read_text()
        size = ledger.size
        alarm_index = ledger.record_index("alarm_journal", journal[0]["id"])
    # the server has stopped (the embedded telemetry file is free for the verifier)
    return Plant(settings.data_dir, log, [park, reg], vkeys, journal[0]["id"], size, alarm_index)


def test_an_untouched_plant_verifies_with_its_data(plant):
    r = plant.verify("--data", "--proof", str(plant.data.parent / "alarm.tlog-proof"))
    assert r.exit_code == 0, r.output
    assert "log verified" in r.output and "stored data matches" in r.output
    assert "alarm_journal" in r.output and "telemetry windows" in r.output
    assert '"event": "raised"' in r.output  # the proof shows the record it sealed


def _as_db_admin(plant: Plant, sql: str, *args) -> None:
    """What someone with the database's files can do: drop the append-only triggers and rewrite."""
    with sqlite3.connect(plant.data / "hazwatch.db") as con:
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            con.execute(f'DROP TRIGGER "{name}"')
        con.execute("PRAGMA foreign_keys=OFF")
        con.execute(sql, args)


def test_changing_an_alarm_journal_row_is_named(plant):
    _as_db_admin(plant, "UPDATE alarm_journal SET value = 12.0 WHERE id = ?", plant.journal_row)
    r = plant.verify("--data")
    assert r.exit_code == 1, r.output
    first = next(line for line in r.output.splitlines() if line.startswith("FAILED"))
    assert f"alarm_journal row {plant.journal_row} no longer matches" in first and "entry " in first
    # the proof made before the change still shows the original row, and still verifies
    assert plant.verify("--proof", str(plant.data.parent / "alarm.tlog-proof")).exit_code == 0


def test_deleting_an_alarm_journal_row_is_named(plant):
    _as_db_admin(plant, "DELETE FROM alarm_journal WHERE id = ?", plant.journal_row)
    r = plant.verify("--data")
    assert r.exit_code == 1 and f"alarm_journal row {plant.journal_row} that it sealed was deleted" in r.output


def test_changing_a_stored_reading_is_named(plant):
    con = duckdb.connect(str(plant.data / "telemetry.duckdb"))
    ts = con.execute("SELECT min(ts) FROM readings").fetchone()[0]
    con.execute("UPDATE readings SET value = value - 5 WHERE ts = ?", [ts])
    con.close()
    r = plant.verify("--data")
    assert r.exit_code == 1, r.output
    first = next(line for line in r.output.splitlines() if line.startswith("FAILED"))
    assert "the readings of sensor" in first and "no longer match" in first and first.startswith("FAILED entry ")


def test_deleting_an_entry_from_the_log_is_named(plant):
    d = plant.data / "ledger"
    rel = bundle_path(0, plant.size) if plant.size < 256 else bundle_path(0)
    entries = decode_bundle((d / rel).read_bytes())
    victim = plant.alarm_index  # the public entry is a commitment: which one seals the alarm, the log knows
    (d / rel).write_bytes(encode_bundle(entries[:victim] + entries[victim + 1:]))
    r = plant.verify("--tiles", str(d))
    assert r.exit_code == 1, r.output
    assert f"FAILED entry {victim}:" in r.output and "was removed" in r.output


def test_changing_an_entry_in_a_mirror_is_named(plant, tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(plant.data / "ledger", mirror, ignore=shutil.ignore_patterns("*.key"))
    rel = bundle_path(0, plant.size) if plant.size < 256 else bundle_path(0)
    entries = decode_bundle((mirror / rel).read_bytes())
    entries[3] = entries[3].replace(b'"c":"', b'"c":"0')[:-10] + entries[3][-9:]  # one digit of the commitment
    (mirror / rel).write_bytes(encode_bundle(entries))
    r = plant.verify("--tiles", str(mirror))
    assert r.exit_code == 1 and "FAILED entry 3: does not hash to the leaf" in r.output


def test_a_checkpoint_without_the_witness_quorum_is_refused(plant, tmp_path):
    d = plant.data / "ledger"
    cp = (d / "checkpoint").read_text()
    (d / "checkpoint").write_text("".join(line for line in cp.splitlines(keepends=True)
                                          if "regulator" not in line))
    r = plant.verify("--tiles", str(d))
    assert r.exit_code == 1 and "1 valid witness cosignature" in r.output and "needs 2" in r.output


def test_the_witnesses_refuse_a_rewritten_history_and_a_fork(plant):
    """The log's own key cannot buy a rewrite: the witnesses cosigned the honest tree."""
    d = plant.data / "ledger"
    rel = bundle_path(0, plant.size) if plant.size < 256 else bundle_path(0)
    entries = decode_bundle((d / rel).read_bytes())[:plant.size]
    honest = MemoryTiles(leaf_hashes(entries))
    forged = list(entries)
    forged[2] = forged[2].replace(b'"v":2', b'"v":2 ')
    forged += [b'{"kind":"test","subject":"x","v":1}'] * 3
    tree = MemoryTiles(leaf_hashes(forged))

    def signed(size: int, root: bytes) -> str:
        t = Checkpoint(plant.log.name, size, root).text()
        return t + "\n" + plant.log.sign_line(t)

    for w in plant.witnesses:
        with pytest.raises(WitnessRefused) as e:
            w.add_checkpoint(plant.size, consistency_proof(tree.node, plant.size, len(forged)),
                             signed(len(forged), tree.root_hash()))
        assert e.value.status == 422
        with pytest.raises(WitnessRefused) as e:  # same size, another root
            w.add_checkpoint(plant.size, [], signed(plant.size, MemoryTiles(leaf_hashes(forged[:plant.size]))
                                                    .root_hash()))
        assert e.value.status == 409
        # the honest log still gets its cosignature
        assert w.add_checkpoint(plant.size, [], signed(plant.size, honest.root_hash())).startswith("\u2014 ")


def test_the_regulator_commands_of_the_readme(plant, tmp_path):
    """prove (at the plant), then verify the proof and the whole log offline."""
    out = tmp_path / "alarm.tlog-proof"
    r = CliRunner().invoke(cli, ["ledger", "prove", "--data-dir", str(plant.data), "--record",
                                 f"alarm_journal:{plant.journal_row}", "-o", str(out)])
    assert r.exit_code == 0, r.output
    extra = next(x for x in out.read_text().splitlines() if x.startswith("extra "))
    assert orjson.loads(base64.b64decode(extra[6:]))["record"]["id"] == plant.journal_row
    r = plant.verify("--proof", str(out), "--tiles", str(plant.data / "ledger"))
    assert r.exit_code == 0 and "verified entry" in r.output and "log verified" in r.output
    # a changed record in the proof is caught
    text_ = out.read_text().replace(extra, "extra " + base64.b64encode(
        base64.b64decode(extra[6:]).replace(b'"event":"raised"', b'"event":"cleared"')).decode())
    out.write_text(text_)
    r = plant.verify("--proof", str(out))
    assert r.exit_code == 1 and "FAILED" in r.output


def test_the_log_grows_consistently_across_restarts(plant, tmp_path):
    old = tmp_path / "old.checkpoint"
    old.write_text((plant.data / "ledger" / "checkpoint").read_text())
    settings = make_settings(plant.data.parent, ledger_enabled=True, ledger_interval_s=3600,
                             ledger_witnesses=[f"{w.url} {w.verifier.vkey}" for w in plant.witnesses])
    services = build_services(settings, None)
    with services.engine.begin() as conn:
        services.ledger.append(conn, [services.ledger.entry("test", "restart", n=1)])
    services.ledger.integrate()
    assert services.ledger.cosign() and services.ledger.size == plant.size + 1
    services.store.close()
    r = plant.verify("--tiles", str(plant.data / "ledger"), "--old-checkpoint", str(old))
    assert r.exit_code == 0 and "checked 1 consistency" in r.output, r.output
    with open(old) as f:
        assert Checkpoint.parse(f.read().split("\n\n")[0] + "\n").size == plant.size
