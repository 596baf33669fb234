"""The demo park as a real Modbus TCP server (pymodbus): each sensor a float32 in two holding
registers (big-endian, high word first) from address 0 up, updated once a second from the park
simulator, with the register map written out as a ModbusConfig the adapter reads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hazwatch.catalog.schema import CatalogDoc
from hazwatch.ingest.modbus import ModbusConfig, ModbusDevice, Point, encode
from hazwatch.sim.plant import ParkSimulator


def register_map(doc: CatalogDoc, host: str, port: int, interval_s: float = 1.0) -> ModbusConfig:
    points = [Point(tag=s.tag, table="holding", address=2 * i, type="float32") for i, s in enumerate(doc.sensors)]
    return ModbusConfig(devices=[ModbusDevice(name="park-plc", host=host, port=port, unit=1, interval_s=interval_s,
                                              points=points)])


class RegisterServer:
    """A Modbus TCP server whose registers the caller (or a client's write) sets; undefined addresses
    answer exception 2."""

    def __init__(self, size: int, host: str, port: int) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import SimData, SimDevice
        from pymodbus.simulator.simutils import DataType

        self.registers: dict[int, int] = {}

        async def fill(_fc, start_address, address, _count, current, set_values) -> None:
            if set_values is not None:  # a client's write (an interlock): the register holds it from now on
                for i, v in enumerate(set_values):
                    self.registers[address + i] = int(v)
            for i in range(len(current)):
                current[i] = self.registers.get(start_address + i, 0)

        self._device = SimDevice(id=1, simdata=[SimData(0, count=max(1, size), values=0,
                                                        datatype=DataType.REGISTERS)], action=fill)
        self._address = (host, port)
        self._server_class = ModbusTcpServer
        self.server = None  # made in serve(): pymodbus needs the running loop

    def set(self, point: Point, value: float) -> None:
        for i, word in enumerate(encode(value, point)):
            self.registers[point.address + i] = word

    async def serve(self) -> None:
        self.server = self._server_class(self._device, address=self._address)
        await self.server.serve_forever()

    async def shutdown(self) -> None:
        if self.server is not None:
            await self.server.shutdown()


async def serve_park(doc: CatalogDoc, port: int, host: str = "127.0.0.1", period_s: float = 1.0,
                     ready: Callable[[ModbusConfig], None] | None = None, stop: asyncio.Event | None = None) -> None:
    config = register_map(doc, host, port)
    points = {p.tag: p for p in config.devices[0].points}
    server = RegisterServer(2 * len(points), host, port)
    task = asyncio.create_task(server.serve())
    sim = ParkSimulator(doc)
    await asyncio.sleep(0.2)
    if ready is not None:
        ready(config)
    k, start = 0, time.monotonic()
    try:
        while stop is None or not stop.is_set():
            tags, _ts, values, _q = sim.step(float(k), time.time_ns() // 1000)
            for tag, v in zip(tags, values.tolist(), strict=True):
                server.set(points[tag], v)
            k += 1
            await asyncio.sleep(max(0.0, start + k * period_s - time.monotonic()))
    finally:
        await server.shutdown()
        task.cancel()
