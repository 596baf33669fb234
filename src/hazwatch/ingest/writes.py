"""Interlock writes through the protocol adapters' libraries: an OPC UA node, a Modbus holding
register or an MQTT command topic. Each write reads the target back where the protocol allows,
so the incident's record shows what the plant holds, not only what was sent."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

from hazwatch.ingest.mqtt import Broker

_INTEGER_TYPES = ("Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64")


def command_payload(value: float) -> str:
    """What an MQTT command topic receives (docs/asyncapi.yaml, message `command`)."""
    return json.dumps({"value": value})


class ProtocolWriter:
    """Writes by the scheme of the target; `mqtt_url` is the broker MQTT commands go to."""

    def __init__(self, mqtt_url: str | None = None, timeout_s: float = 10.0) -> None:
        self.mqtt_url, self.timeout_s = mqtt_url, timeout_s

    async def write(self, target: str, value: float) -> float | None:
        if target.startswith("opc.tcp://"):
            return await self._opcua(target, value)
        if target.startswith("modbus://"):
            return await self._modbus(target, value)
        if target.startswith("mqtt://"):
            await asyncio.to_thread(self._mqtt, target[len("mqtt://"):], value)
            return None
        raise ValueError(f"unknown interlock target {target!r}")

    async def _opcua(self, target: str, value: float) -> float:
        from asyncua import Client, ua

        endpoint, node_id = target.split("#", 1)
        client = Client(endpoint, timeout=self.timeout_s)
        await client.connect()
        try:
            node = client.get_node(node_id)
            vtype = (await node.read_data_value()).Value.VariantType
            v: object = value
            if vtype.name == "Boolean":
                v = bool(value)
            elif vtype.name in _INTEGER_TYPES:
                v = int(value)
            # value only: servers commonly refuse a write that also sets timestamps or status
            await node.write_attribute(ua.AttributeIds.Value, ua.DataValue(ua.Variant(v, vtype)))
            return float(await node.read_value())
        finally:
            await client.disconnect()

    async def _modbus(self, target: str, value: float) -> float:
        from pymodbus.client import AsyncModbusTcpClient

        u = urlsplit(target)
        unit, register = (int(p) for p in u.path.strip("/").split("/"))
        client = AsyncModbusTcpClient(u.hostname or "127.0.0.1", port=u.port or 502, timeout=self.timeout_s,
                                      retries=0)
        if not await client.connect():
            raise ConnectionError(f"cannot connect to Modbus server {u.hostname}:{u.port or 502}")
        try:
            wr = await client.write_register(register, int(value), device_id=unit)
            if wr.isError():
                raise OSError(f"Modbus write to register {register} refused: {wr}")
            rr = await client.read_holding_registers(register, count=1, device_id=unit)
            if rr.isError():
                raise OSError(f"Modbus read-back of register {register} refused: {rr}")
            return float(rr.registers[0])
        finally:
            client.close()

    def _mqtt(self, topic: str, value: float) -> None:
        import paho.mqtt.client as mqtt

        if not self.mqtt_url:
            raise RuntimeError("no MQTT broker configured (HAZWATCH_MQTT_URL) for command topics")
        b = Broker.parse(self.mqtt_url)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if b.username:
            client.username_pw_set(b.username, b.password)
        if b.tls:
            client.tls_set()
        client.connect(b.host, b.port, keepalive=30)
        client.loop_start()
        try:
            info = client.publish(topic, command_payload(value), qos=1)
            info.wait_for_publish(self.timeout_s)
            if not info.is_published():
                raise TimeoutError(f"MQTT command to {topic} not acknowledged by the broker")
        finally:
            client.disconnect()
            client.loop_stop()
