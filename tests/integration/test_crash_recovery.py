"""SIGKILL the server mid-stream, start it again: every acknowledged reading is there, nothing is
stored twice, and the alarm states and journal agree exactly with the stored data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import DATA

TOKEN = "crash-test-token"
HZ = [sys.executable, "-m", "hazwatch.cli.main"]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, HAZWATCH_ADMIN_TOKEN=TOKEN, HAZWATCH_CHECKPOINT_INTERVAL_S="3")
    proc = subprocess.Popen([*HZ, "serve", "--data-dir", str(data_dir), "--port", str(port)], env=env,
                            stdout=log.open("a"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"server did not start: {log.read_text()}")


def gt2_value(i: int) -> float:
    return 30.0 if (i // 7) % 2 == 0 else 10.0


def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path, record_property):
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    subprocess.run([*HZ, "catalog", "import", str(DATA / "catalog.yaml"), "--data-dir", str(data_dir)],
                   check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    proc = start(data_dir, port, log)
    t0 = time.time() - 3600
    with httpx.Client(base_url=base, headers=headers, timeout=10) as c:
        r = c.post("/telemetry", json={"sensor": ["TK1-LT"], "ts": [t0 - 10], "value": [19.5]})
        assert r.json()["accepted"] == 1
        hh = next(a for a in c.get("/alarms").json()["items"] if a["condition"] == "HH")
        assert c.post(f"/alarms/{hh['id']}/ack", json={"comment": "seen"}).status_code == 200

        acked: list[float] = []
        killer = threading.Timer(1.5, lambda: os.kill(proc.pid, signal.SIGKILL))
        killer.start()
        i = 0
        try:
            while True:
                ts = [t0 + (i + k) * 0.01 for k in range(500)]
                vals = [gt2_value(i + k) for k in range(500)]
                r = c.post("/telemetry", json={"sensor": ["GT2"] * 500, "ts": ts, "value": vals})
                assert r.status_code == 200 and r.json() == {"accepted": 500, "rejected": []}
                acked.extend(ts)
                i += 500
        except httpx.HTTPError:
            pass
        killer.join()
        proc.wait(10)
    assert len(acked) >= 1000, "the stream should have run for a while before the kill"

    proc = start(data_dir, port, log)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
            s = c.get("/sensors/GT2/series", params={"start": t0 - 1, "end": t0 + 10_000, "limit": 1_000_000}).json()
            stored = s["ts"]
            assert len(stored) == len(set(stored)), "a reading was stored twice"
            missing = {round(x * 1e6) for x in acked} - {round(x * 1e6) for x in stored}
            assert not missing, f"{len(missing)} of {len(acked)} acknowledged readings lost ({len(stored)} stored)"
            # alarm journal and state agree with the stored data, transition for transition
            values = s["value"]
            rises = sum(1 for a, b in zip([0.0] + values, values, strict=False) if a < 25 <= b)
            falls = sum(1 for a, b in zip([0.0] + values, values, strict=False) if a >= 25 > b)
            alarm = next(a for a in c.get("/alarms", params={"state": "all"}).json()["items"]
                         if a["sensor"] == "GT2" and a["condition"] == "H")
            journal = [e["event"] for e in c.get(f"/alarms/{alarm['id']}/journal").json()["items"]]
            assert journal.count("raised") == rises and journal.count("cleared") == falls
            assert alarm["active"] == (values[-1] >= 25)
            for k, v in (("acknowledged", len(acked)), ("stored", len(stored)), ("raised", rises), ("cleared", falls)):
                record_property(k, v)
            hh_after = c.get(f"/alarms/{hh['id']}").json()
            assert hh_after["state"] == "active_acknowledged"
            # and the restarted server keeps working
            r = c.post("/telemetry", json={"sensor": ["GT2"], "ts": [t0 + 3_000], "value": [1.0]})
            assert r.json()["accepted"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
