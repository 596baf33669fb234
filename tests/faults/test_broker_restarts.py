"""The brokers restarted under load. Mosquitto: devices keep publishing QoS 1 readings while the
broker restarts; every reading the broker acknowledged is stored exactly once. NATS (scale-out):
a gateway keeps posting to an ingest node while the NATS server restarts; the node holds a request
until JetStream acknowledges it or answers 503, and every reading it acknowledged is stored
exactly once."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import time

import duckdb
import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import DATA, eventually
from tests.faults.conftest import Sender
from tests.incidents.helpers import free_port
from tests.scale.conftest import prepare, start_node, wait_jetstream, wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.services]
MESSAGES = 12_000  # one reading each, at about 1,000 a second


class Mosquitto:
    def __init__(self, workdir) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(exe):
            if os.environ.get("HAZWATCH_REQUIRE_SERVICES") == "1":
                pytest.fail("mosquitto is required in CI")
            pytest.skip("mosquitto is not installed")
        self.exe, self.port = exe, free_port()
        (workdir / "db").mkdir()
        self.conf = workdir / "mosquitto.conf"
        # persistence: a broker restarted the way an operator does (SIGTERM) keeps its sessions and the
        # messages queued for them
        # (as root, mosquitto would switch to its own user, who may not write under the test's directory)
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"user {getpass.getuser()}\n"
                             f"persistence_location {workdir / 'db'}/\nmax_queued_messages 0\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        import socket
        assert eventually(lambda: socket.socket().connect_ex(("127.0.0.1", self.port)) == 0, 10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def test_mosquitto_restarted_under_load(tmp_path, record_property):
    broker = Mosquitto(tmp_path)
    broker.start()
    data = tmp_path / "data"
    subprocess.run([_python(), "-m", "hazwatch.cli.main", "catalog", "import", str(DATA / "catalog.yaml"),
                    "--data-dir", str(data)], check=True, capture_output=True)
    node = start_node("all", "server", tmp_path, {"HAZWATCH_MQTT_URL": f"mqtt://127.0.0.1:{broker.port}"},
                      data_dir=data)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="field-gateway", clean_session=False)
    pub.reconnect_delay_set(0.2, 1)
    pub.max_queued_messages_set(0)
    infos = []
    try:
        wait_ready([node])
        assert eventually(lambda: _mqtt_state(node) == "running", 30)  # subscribed: the broker keeps its messages
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        t0 = time.time() - 3600
        tags = ["GT1", "GT2"]
        for k in range(MESSAGES):
            body = orjson.dumps({"readings": [{"sensor": tags[k % 2], "ts": round(t0 + k * 0.001, 3),
                                               "value": 1.0 + k % 5}]})
            while not pub.is_connected():  # a gateway holds its readings while it has no broker
                time.sleep(0.01)
            infos.append(pub.publish("hz/v1/E-T/DCS-T/telemetry", body, qos=1))
            if k == MESSAGES // 3:
                broker.stop()  # the broker goes away mid-stream ...
                time.sleep(2)
                broker.start()  # ... and comes back on the same port with its saved sessions
            time.sleep(0.001)
        # paho sends again what the broker had not acknowledged when it went away
        assert eventually(lambda: all(i.is_published() for i in infos), 60), \
            f"{sum(i.is_published() for i in infos)} of {MESSAGES} acknowledged by the broker"
        assert eventually(lambda: _stored_mqtt(node) >= MESSAGES, 60)
        time.sleep(1)
    finally:
        pub.loop_stop()
        node.stop()
        broker.stop()
    con = duckdb.connect(str(data / "telemetry.duckdb"), read_only=True)
    got = {round((t / 1e6 - t0) * 1000) for (t,) in con.execute("SELECT ts FROM readings").fetchall()}
    missing = sorted(set(range(MESSAGES)) - got)
    assert not missing, f"{len(missing)} missing, from {missing[:3]} to {missing[-3:]}; restart at {MESSAGES // 3}"
    count, distinct = con.execute("SELECT count(*), count(DISTINCT (sensor, ts)) FROM readings").fetchone()
    con.close()
    for k, v in (("acknowledged", MESSAGES), ("stored", count), ("distinct", distinct)):
        record_property(k, v)
    assert (count, distinct) == (MESSAGES, MESSAGES)


def _python() -> str:
    import sys
    return sys.executable


def _mqtt_state(node) -> str:
    import httpx

    from tests.conftest import TOKEN
    items = httpx.get(node.base + "/api/v1/adapters", headers={"Authorization": f"Bearer {TOKEN}"}).json()["items"]
    return next(a["state"] for a in items if a["name"] == "mqtt")


def _stored_mqtt(node) -> int:
    import httpx

    from tests.conftest import TOKEN
    try:
        text = httpx.get(node.base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).text
    except httpx.HTTPError:
        return 0
    for line in text.splitlines():
        if line.startswith('hazwatch_readings_total{result="accepted"}'):
            return int(float(line.split()[-1]))
    return 0


def test_nats_restarted_under_load(nats_single, pg_database, tmp_path, record_property):
    prepare(pg_database, tmp_path, DATA / "catalog.yaml")
    env = {"HAZWATCH_DATABASE_URL": pg_database, "HAZWATCH_NATS_URL": nats_single.url, "HAZWATCH_PARTITIONS": "4"}
    worker = start_node("worker", "worker", tmp_path, env)
    ingest = start_node("ingest", "ingest", tmp_path, env)
    sender = None
    try:
        wait_ready([worker, ingest])
        sender = Sender(ingest.base, ["GT1", "GT2", "TK1-LT"])
        sender.start()
        assert eventually(lambda: len(sender.accepted) >= 500, 20), sender.answers[-3:]
        nats_single.stop()
        stopped_at = time.time()
        time.sleep(5)
        nats_single.start()
        wait_jetstream(nats_single.url, 1)
        before = len(sender.accepted)
        assert eventually(lambda: len(sender.accepted) >= before + 500, 60), sender.answers[-3:]
        sender.stop()
        assert eventually(lambda: _stored_pg(pg_database) >= len(sender.accepted), 60)
        time.sleep(1)
    finally:
        if sender is not None:
            sender.stop()
        ingest.stop()
        worker.stop()
    # a request waits for JetStream's acknowledgement through a short outage, or is refused with 503
    # (and sent again); never anything else
    refused = [a for a in sender.answers if a[1] != 200]
    assert all(a[1] == 503 and a[0] >= stopped_at and "retry-after" in a[2] for a in refused), refused[:3]
    with psycopg.connect(pg_database) as con:
        stored = con.execute("SELECT count(*), count(DISTINCT (sensor, ts)) FROM readings").fetchone()
    for k, v in (("acknowledged", len(sender.accepted)), ("stored", stored[0]), ("distinct", stored[1]),
                 ("refused (503)", len(refused))):
        record_property(k, v)
    assert stored == (len(sender.accepted), len(sender.accepted))


def _stored_pg(url: str) -> int:
    with psycopg.connect(url) as con:
        return con.execute("SELECT count(*) FROM readings").fetchone()[0]
