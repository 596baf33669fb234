"""The server killed with SIGKILL takes its MQTT receiver process with it. The receiver is a child
process that owns the broker session and appends to the spool; left running, it held the session
against the restarted server's own receiver (the broker hands a client id to one connection at a
time, so the two took it from each other) and wrote into the spool the new server drains. It was
found left over from a benchmark run, retrying a broker that no longer existed. The kill comes as
soon as the server answers, while the receiver may still be starting: it must know its server's
pid from the server, not from its own parent at a moment when that may already be init."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import DATA, eventually
from tests.faults.test_broker_restarts import _mqtt_state
from tests.integration.test_mqtt_ingest import mosquitto_service
from tests.scale.conftest import free_port, start_node, wait_ready

HZ = ["-m", "hazwatch.cli.main"]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["connected", "unreachable"])
def test_a_killed_server_leaves_no_receiver_behind(broker, tmp_path):
    port = mosquitto_service() if broker == "connected" else free_port()  # nothing listens on a free port
    data = tmp_path / "data"
    subprocess.run([sys.executable, *HZ, "catalog", "import", str(DATA / "catalog.yaml"), "--data-dir", str(data)],
                   check=True, capture_output=True)
    node = start_node("all", "server", tmp_path, {"HAZWATCH_MQTT_URL": f"mqtt://127.0.0.1:{port}",
                                                  "HAZWATCH_MQTT_CLIENT_ID": f"orphan-{os.getpid()}-{broker}"},
                      data_dir=data)
    try:
        wait_ready([node])
        if broker == "connected":
            assert eventually(lambda: _mqtt_state(node) == "running", 30)
        receivers = eventually(lambda: _children(node.proc.pid), 10)
        assert receivers, "the server started no receiver process"
        node.kill()
        gone = eventually(lambda: not any(_alive(p) for p in receivers), 5)
        assert gone, f"receiver {receivers} still running after its server was killed"
    finally:
        node.stop()
        for p in receivers if "receivers" in locals() else []:
            if _alive(p):
                os.kill(p, 9)
        time.sleep(0.1)
