"""The exported Mosquitto password and ACL files on a real broker: started from the machine's
mosquitto binary on a spare port, a device may publish to its own telemetry topic and is refused
everywhere else; a wrong or revoked secret cannot connect."""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from hazwatch.auth import Principal, Scope
from hazwatch.cli.main import app as cli
from tests.conftest import DATA, build_services, make_settings

pytestmark = pytest.mark.services


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mosquitto() -> str:
    path = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(path):
        if os.environ.get("HAZWATCH_REQUIRE_SERVICES") == "1":
            pytest.fail("mosquitto is not installed (HAZWATCH_REQUIRE_SERVICES=1)")
        pytest.skip("mosquitto is not installed")
    return path


class Broker:
    def __init__(self, auth_dir: Path, work: Path) -> None:
        self.port = _free_port()
        conf = work / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous false", "persistence false",
                 f"password_file {auth_dir / 'password_file'}", f"acl_file {auth_dir / 'acl_file'}"]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it drops to `mosquitto`, who cannot read the 0600 files
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([_mosquitto(), "-c", str(conf)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not start: {self.proc.stdout.read().decode() if self.proc.stdout else ''}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def connect(port: int, user: str, password: str) -> tuple[mqtt.Client, queue.Queue]:
    """A connected MQTT 5 client and the queue its events land in."""
    events: queue.Queue = queue.Queue()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-{time.monotonic_ns()}",
                    protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    c.on_connect = lambda _c, _u, _f, rc, _p: events.put(("connect", rc))
    c.on_publish = lambda _c, _u, mid, rc, _p: events.put(("puback", mid, rc))
    c.on_subscribe = lambda _c, _u, mid, rcs, _p: events.put(("suback", rcs))
    c.on_message = lambda _c, _u, msg: events.put(("message", msg.topic, msg.payload))
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c, events


def wait_for(events: queue.Queue, kind: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            e = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if e[0] == kind:
            return e
    return None


def connect_ok(port: int, user: str, password: str) -> bool:
    c, events = connect(port, user, password)
    try:
        e = wait_for(events, "connect")
        return e is not None and not e[1].is_failure
    finally:
        c.loop_stop()
        c.disconnect()


def test_exported_files_confine_each_device_to_its_topics(tmp_path):
    _mosquitto()
    settings = make_settings(tmp_path)
    services = build_services(settings, DATA / "tenants.yaml")
    root, everything = Principal(None, "test", "admin", None), Scope(None)
    own = services.device_credentials.issue(root, everything, "D-EA1", "mqtt")["secret"]
    services.device_credentials.issue(root, everything, "D-EB1", "mqtt")
    auth_dir = tmp_path / "mqtt"
    r = CliRunner().invoke(cli, ["mqtt-auth", "export", str(auth_dir), "--data-dir", str(settings.data_dir)])
    assert r.exit_code == 0, r.output
    assert oct((auth_dir / "password_file").stat().st_mode)[-3:] == "600"
    acl = (auth_dir / "acl_file").read_text()
    assert "user D-EA1\ntopic write hz/v1/EA1/D-EA1/telemetry\ntopic readwrite hz/v1/EA1/D-EA1/status" in acl
    assert "D-EA2" not in acl  # no secret issued, no account
    server_pw = (auth_dir / "server-password").read_text().strip()

    broker = Broker(auth_dir, tmp_path)
    try:
        sub, sub_events = connect(broker.port, "hazwatch", server_pw)
        assert not wait_for(sub_events, "connect")[1].is_failure
        sub.subscribe("hz/v1/#", qos=1)
        assert wait_for(sub_events, "suback") is not None

        dev, dev_events = connect(broker.port, "D-EA1", own)
        assert not wait_for(dev_events, "connect")[1].is_failure
        # its own topic: acknowledged and delivered
        dev.publish("hz/v1/EA1/D-EA1/telemetry", b'{"sensor":["T-EA1"],"ts":[1],"value":[1]}', qos=1)
        ack = wait_for(dev_events, "puback")
        assert not ack[2].is_failure
        msg = wait_for(sub_events, "message")
        assert msg is not None and msg[1] == "hz/v1/EA1/D-EA1/telemetry"
        # another device's topic, in its own and in another enterprise: refused, never delivered
        for foreign in ("hz/v1/EA1/D-EA1B/telemetry", "hz/v1/EB1/D-EB1/telemetry", "hz/v1/EA1/D-EA1/other"):
            dev.publish(foreign, b"{}", qos=1)
            ack = wait_for(dev_events, "puback")
            assert ack[2].is_failure and ack[2].getName() == "Not authorized", foreign
        assert wait_for(sub_events, "message", timeout=0.5) is None
        dev.loop_stop()
        dev.disconnect()
        sub.loop_stop()
        sub.disconnect()

        # a wrong password, or a device name used with another device's secret, cannot connect
        assert not connect_ok(broker.port, "D-EA1", own + "x")
        assert not connect_ok(broker.port, "D-EB1", own)
    finally:
        broker.stop()


def test_revoked_secret_leaves_the_password_file(tmp_path):
    settings = make_settings(tmp_path)
    services = build_services(settings, DATA / "tenants.yaml")
    root, everything = Principal(None, "test", "admin", None), Scope(None)
    made = services.device_credentials.issue(root, everything, "D-EA2", "mqtt")
    pw, _ = services.device_credentials.mosquitto_files("hazwatch", "pw")
    assert "\nD-EA2:$7$" in pw
    services.device_credentials.revoke(root, everything, "D-EA2", made["id"])
    pw, acl = services.device_credentials.mosquitto_files("hazwatch", "pw")
    assert "D-EA2" not in pw and "D-EA2" not in acl
