"""Overload: publishers offer more than the platform takes, through a broker that drops QoS 1
messages for slow subscribers (Mosquitto with a short per-client queue). A naive subscriber that
works before it acknowledges loses messages there; Hazwatch's receiver acknowledges only what it
has spooled durably, takes messages as fast as they come, and stores every reading."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from hazwatch.app import make_api
from tests.conftest import DATA, TOKEN, build_services, make_settings
from tests.integration.test_mqtt_ingest import binary, free_port, until, wait_port

pytestmark = pytest.mark.services
MESSAGES = 3000  # per publisher, 10 readings each
SINK_RATE = 10_000  # readings/s the platform takes in this test
PUBLISH_RATE = 2_000  # messages/s per publisher: together 4x what the platform takes
# Paced, not flat out: the receiver must outrun the publishers (a broker with a queue limit drops
# for any subscriber that falls behind), and on a loaded 2-core machine two unpaced Python
# publishers can starve it of CPU. The offer stays well above the platform's rate.
PUBLISHERS = (("hz/v1/EA1/D-EA1/telemetry", "T-EA1"), ("hz/v1/EA2/D-EA2/telemetry", "T-EA2"))


@pytest.fixture
def lossy_mosquitto(tmp_path):
    import subprocess

    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 1000\nmax_inflight_messages 20\n")
    proc = subprocess.Popen([binary("mosquitto", "/usr/sbin/mosquitto"), "-c", str(conf)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def naive_subscriber(port: int, received: list[int], connected: threading.Event) -> mqtt.Client:
    """Works on each message (2 ms) before paho acknowledges it: the usual pipeline."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"naive-{uuid.uuid4().hex[:6]}", clean_session=False,
                    protocol=mqtt.MQTTv311)

    def on_message(_c, _u, _m) -> None:
        time.sleep(0.002)
        received[0] += 1

    c.on_message = on_message
    c.on_connect = lambda cl, *_: (cl.subscribe("hz/v1/+/+/telemetry", qos=1), connected.set())
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish(port: int, topic: str, tag: str, base: float) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(100)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = []
    start = time.monotonic()
    for k in range(MESSAGES):
        if k % 100 == 0:
            time.sleep(max(0.0, start + k / PUBLISH_RATE - time.monotonic()))
        ts = [round(base + (k * 10 + j) * 0.001, 3) for j in range(10)]
        body = ('{"sensor":["%s","%s","%s","%s","%s","%s","%s","%s","%s","%s"],"ts":%s,"value":%s}'
                % ((tag,) * 10 + (ts, [float(k % 40)] * 10))).replace("'", '"')
        infos.append(c.publish(topic, body, qos=1))
    for i in infos:
        i.wait_for_publish(60)
    c.disconnect()
    c.loop_stop()


def test_zero_loss_when_publishers_outrun_the_platform(tmp_path, lossy_mosquitto):
    port = lossy_mosquitto
    settings = make_settings(tmp_path, mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_client_id="hz-overload")
    services = build_services(settings, DATA / "tenants.yaml")
    adapter = next(a for a in services.adapters if a.name == "mqtt")
    fast = adapter.sink

    def slow_sink(raw):  # the platform takes SINK_RATE readings/s here: a quarter of the offer
        time.sleep(len(raw) / SINK_RATE)
        return fast(raw)

    adapter.sink = slow_sink
    received, naive_ready = [0], threading.Event()
    naive = naive_subscriber(port, received, naive_ready)
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}):
        assert until(adapter.connected, 15) and naive_ready.wait(10)
        base = time.time() - 3600
        threads = [threading.Thread(target=publish, args=(port, topic, tag, base)) for topic, tag in PUBLISHERS]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        offered_s = time.monotonic() - t0
        total = MESSAGES * 10 * len(PUBLISHERS)
        assert total / offered_s > 2 * SINK_RATE, f"the publishers offered only {total / offered_s:.0f} readings/s"
        stored = until(lambda: services.store.count() == total or None, 120, 0.2)
        # the drain thread counts a batch once the pipeline has answered for it
        h = until(lambda: (x := adapter.health().as_dict())["readings_accepted"] == total and x, 10)
        h = h or adapter.health().as_dict()
        assert stored and services.store.count() == total, (services.store.count(), h)
        assert h["readings_accepted"] == total and h.get("readings_rejected", 0) == 0, h
    time.sleep(0.5)
    naive.disconnect()
    naive.loop_stop()
    # the same broker under the same offer lost messages for the subscriber that acknowledged late
    assert received[0] < MESSAGES * len(PUBLISHERS), received[0]
