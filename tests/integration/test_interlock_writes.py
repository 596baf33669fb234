"""Interlock writes through the real protocols: a Modbus holding register on a pymodbus server
(written and read back), and a command on Mosquitto (published with QoS 1, received by a device).
The OPC UA path runs in tests/incidents/test_disposal_e2e.py."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hazwatch.ingest.writes import ProtocolWriter
from hazwatch.sim.modbus_server import RegisterServer
from tests.conftest import require_service
from tests.incidents.helpers import free_port


def test_modbus_register_is_written_and_read_back():
    async def run() -> tuple[float, dict, str]:
        port = free_port()
        server = RegisterServer(100, "127.0.0.1", port)
        task = asyncio.create_task(server.serve())
        await asyncio.sleep(0.3)
        writer = ProtocolWriter(timeout_s=3)
        try:
            readback = await writer.write(f"modbus://127.0.0.1:{port}/1/40", 7)
            with pytest.raises(OSError) as refused:  # past the end of the server's registers
                await writer.write(f"modbus://127.0.0.1:{port}/1/400", 1)
            return readback, dict(server.registers), str(refused.value)
        finally:
            await server.shutdown()
            task.cancel()

    readback, registers, refused = asyncio.run(run())
    assert readback == 7.0 and registers == {40: 7}
    assert "register 400" in refused


def test_modbus_write_to_a_dead_server_fails_clearly():
    with pytest.raises(ConnectionError, match="cannot connect"):
        asyncio.run(ProtocolWriter(timeout_s=1).write(f"modbus://127.0.0.1:{free_port()}/1/40", 1))


@pytest.mark.services
def test_mqtt_command_reaches_the_device():
    require_service("Mosquitto", 1883)
    topic = f"hz/v1/E-TANK/XV-{uuid.uuid4().hex[:8]}/command"
    got: list[bytes] = []
    subscribed, arrived = threading.Event(), threading.Event()
    device = mqtt.Client(CallbackAPIVersion.VERSION2)
    device.on_subscribe = lambda *_a: subscribed.set()
    device.on_message = lambda _c, _u, msg: (got.append(msg.payload), arrived.set())
    device.connect("127.0.0.1", 1883)
    device.subscribe(topic, qos=1)
    device.loop_start()
    try:
        assert subscribed.wait(10)
        readback = asyncio.run(ProtocolWriter("mqtt://127.0.0.1:1883").write(f"mqtt://{topic}", 0))
        assert readback is None  # MQTT cannot be read back
        assert arrived.wait(10)
        assert json.loads(got[0]) == {"value": 0}
    finally:
        device.loop_stop()
        device.disconnect()


def test_mqtt_command_without_a_broker_is_refused():
    with pytest.raises(RuntimeError, match="no MQTT broker configured"):
        asyncio.run(ProtocolWriter(None).write("mqtt://hz/v1/E/D/command", 1))
