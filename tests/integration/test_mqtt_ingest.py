"""MQTT ingest end to end against real brokers: the Mosquitto service on this machine (1883) and a
NATS server with its MQTT listener, started by the test. Readings published with QoS 1 are
stored; a topic's payload may only carry its own device's sensors; a device's last will raises
its communication-loss alarm and `online` clears it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from hazwatch.app import make_api
from tests.conftest import DATA, TOKEN, build_services, make_settings, require_service

pytestmark = pytest.mark.services
API = "/api/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode() if proc.stdout else "exited") from None
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def binary(name: str, fallback: str) -> str:
    path = shutil.which(name) or fallback
    if not os.path.exists(path):
        if os.environ.get("HAZWATCH_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{name} is not installed (HAZWATCH_REQUIRE_SERVICES=1)")
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture
def nats_mqtt(tmp_path) -> Iterator[int]:
    """A NATS server with JetStream and its MQTT listener; yields the MQTT port."""
    exe = binary("nats-server", "/usr/sbin/nats-server")
    port, mqtt_port = free_port(), free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(f'listen: "127.0.0.1:{port}"\nserver_name: "hz-test-{port}"\n'
                    f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\nmqtt {{ listen: "127.0.0.1:{mqtt_port}" }}\n')
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_port(mqtt_port, proc)
        yield mqtt_port
    finally:
        proc.terminate()
        proc.wait(10)


def mosquitto_service() -> int:
    require_service("Mosquitto", 1883)
    return 1883


class Publisher:
    def __init__(self, port: int, client_id: str, will: tuple[str, str] | None = None) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        if will:
            self.c.will_set(will[0], will[1], qos=1)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def send(self, topic: str, payload: bytes | str) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(10)

    def vanish(self) -> None:
        """Drop the connection without DISCONNECT, as a device that loses power does."""
        self.c.loop_stop()
        self.c.socket().close()

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def purge_session(port: int, client_id: str) -> None:
    """Ask the broker to forget the test's persistent session."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True, protocol=mqtt.MQTTv311)
    try:
        c.connect("127.0.0.1", port)
        c.loop_start()
        time.sleep(0.2)
        c.disconnect()
        c.loop_stop()
    except OSError:
        pass


def until(fn, seconds: float = 20.0, every: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(every)
    return fn()


def run_flow(tmp_path: Path, port: int) -> None:
    client_id = f"hz-test-{uuid.uuid4().hex[:8]}"
    settings = make_settings(tmp_path, mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_client_id=client_id)
    services = build_services(settings, DATA / "tenants.yaml")
    adapter = next(a for a in services.adapters if a.name == "mqtt")
    pub = None
    try:
        with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            assert until(adapter.connected, 15), adapter.health()
            now = time.time()
            pub = Publisher(port, f"{client_id}-dev", will=("hz/v1/EA1/D-EA1/status", "offline"))
            pub.send("hz/v1/EA1/D-EA1/telemetry", json.dumps(
                {"sensor": ["T-EA1"] * 10, "ts": [now - 10 + i for i in range(10)],
                 "value": [1.0 + i for i in range(10)]}))
            pub.send("hz/v1/EA1/D-EA1/telemetry", json.dumps(
                {"readings": [{"sensor": "T-EA1", "ts": now + 1, "value": 60.0},
                              {"sensor": "T-EA2", "ts": now + 1, "value": 5.0}]}))  # not this device's sensor
            pub.send("hz/v1/EA1/D-EA1/telemetry", b"{not json")

            def stored():
                s = api.get(f"{API}/sensors/T-EA1/series", params={"start": now - 60, "end": now + 60}).json()
                return s if len(s["value"]) == 11 else None

            series = until(stored)
            assert series and series["value"] == [1.0 + i for i in range(10)] + [60.0]
            assert api.get(f"{API}/sensors/T-EA2/series", params={"start": now - 60}).json()["value"] == []
            # a malformed message is counted as it is decoded, a refused reading once the pipeline has
            # answered for its batch: wait for both
            h = until(lambda: (x := adapter.health().as_dict())["rejected_by_reason"].get("malformed JSON")
                      and x["rejected_by_reason"].get("sensor on another device than the sender's") and x)
            assert h["rejected_by_reason"]["sensor on another device than the sender's"] == 1
            assert h["readings_accepted"] == 11 and h["state"] == "running"
            hh = until(lambda: [a for a in api.get(f"{API}/alarms").json()["items"] if a["condition"] == "HH"])
            assert hh[0]["sensor"] == "T-EA1"  # readings over MQTT raise process alarms like any others

            # the device loses power: its last will raises the communication-loss alarm
            pub.vanish()
            pub = None

            def comm(state: str):
                items = api.get(f"{API}/alarms", params={"state": "all"}).json()["items"]
                return [a for a in items if a["condition"] == "COMM" and a["state"].startswith(state)]

            lost = until(lambda: comm("active"))
            assert lost and lost[0]["device"] == "D-EA1" and lost[0]["enterprise"] == "EA1"
            assert lost[0]["sensor"] is None and lost[0]["priority"] == "high"
            back = Publisher(port, f"{client_id}-dev2")
            back.send("hz/v1/EA1/D-EA1/status", "online")
            back.close()
            assert until(lambda: comm("cleared") or comm("normal") or
                         [a for a in api.get(f"{API}/alarms", params={"state": "all"}).json()["items"]
                          if a["condition"] == "COMM" and not a["active"]])
            # scoped users see the device alarm only in its enterprise's scope
            ea2 = services.users.create(_root(), _everything(), "ea2-op", "long password 1",
                                        "operator", services.orgs.current().by_code("EA2").id)
            token = services.auth.login(ea2["username"], "long password 1").access_token
            mine = api.get(f"{API}/alarms", params={"state": "all"}, headers={"Authorization": f"Bearer {token}"})
            assert [a for a in mine.json()["items"] if a["condition"] == "COMM"] == []
    finally:
        if pub is not None:
            pub.close()
        purge_session(port, client_id)


def _root():
    from hazwatch.auth import Principal

    return Principal(None, "test", "admin", None)


def _everything():
    from hazwatch.auth import Scope

    return Scope(None)


def test_mqtt_ingest_through_mosquitto(tmp_path):
    run_flow(tmp_path, mosquitto_service())


def test_mqtt_ingest_through_nats_mqtt_listener(tmp_path, nats_mqtt):
    run_flow(tmp_path, nats_mqtt)
