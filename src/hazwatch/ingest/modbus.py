"""Modbus TCP ingest (pymodbus): a register map per device, polled at the device's interval.

Each point names its table (holding or input registers), address, type (int16, uint16, int32,
uint32, float32), scale and offset (value = raw × scale + offset), and the byte and word order of
the device (big endian with the high word first is the Modbus convention; many PLCs swap words).
Points of one table are read in as few requests as the 125-register limit allows (bridging gaps of
up to 16 registers; a block the device refuses is read again point by point). An exception
response (illegal address, device failure, ...) marks the points it covers BAD with the last value
they had and the reason kept in the adapter's health; a dead connection is retried with back-off
and yields no readings at all (the sensors' STALE watch reports it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections import Counter
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from hazwatch.domain.batch import Quality
from hazwatch.ingest.adapter import Health, RowBuffer, Sink

log = logging.getLogger(__name__)
WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
_FORMAT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f"}
MAX_BLOCK = 125
MAX_GAP = 16  # registers between points read in one request: devices often refuse undefined ones
EXCEPTIONS = {1: "illegal function", 2: "illegal data address", 3: "illegal data value", 4: "device failure",
              5: "acknowledge", 6: "device busy", 10: "gateway path unavailable",
              11: "gateway target failed to respond"}


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str
    table: Literal["holding", "input"] = "holding"
    address: int = Field(ge=0, le=65535)
    type: Literal["int16", "uint16", "int32", "uint32", "float32"] = "uint16"
    scale: float = 1.0
    offset: float = 0.0
    byte_order: Literal["big", "little"] = "big"
    word_order: Literal["big", "little"] = "big"


class ModbusDevice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    host: str
    port: int = 502
    unit: int = Field(1, ge=0, le=255)
    interval_s: float = Field(1.0, gt=0)
    timeout_s: float = Field(2.0, gt=0)
    points: list[Point]


class ModbusConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    devices: list[ModbusDevice]

    @classmethod
    def load(cls, path: Path) -> ModbusConfig:
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def decode(registers: list[int], point: Point) -> float:
    """The engineering value of a point from its registers (16-bit words as read)."""
    words = list(registers[: WIDTH[point.type]])
    if point.word_order == "little":
        words.reverse()
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    if point.byte_order == "little":
        raw = b"".join(raw[i:i + 2][::-1] for i in range(0, len(raw), 2))
    (value,) = struct.unpack(">" + _FORMAT[point.type], raw)
    return float(value) * point.scale + point.offset


def encode(value: float, point: Point) -> list[int]:
    """Registers holding `value` for a point (the simulator's side of `decode`)."""
    raw_value = (value - point.offset) / point.scale
    if point.type != "float32":
        raw_value = int(round(raw_value))
    raw = struct.pack(">" + _FORMAT[point.type], raw_value)
    if point.byte_order == "little":
        raw = b"".join(raw[i:i + 2][::-1] for i in range(0, len(raw), 2))
    words = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]
    if point.word_order == "little":
        words.reverse()
    return words


def blocks(points: list[Point]) -> list[tuple[str, int, int, list[Point]]]:
    """(table, start, count, points) requests covering the points, each at most 125 registers."""
    out: list[tuple[str, int, int, list[Point]]] = []
    for table in ("holding", "input"):
        mine = sorted((p for p in points if p.table == table), key=lambda p: p.address)
        cur: list[Point] = []
        start = end = 0
        for p in mine:
            p_end = p.address + WIDTH[p.type]
            if cur and p_end - start <= MAX_BLOCK and p.address - end <= MAX_GAP:
                cur.append(p)
                end = max(end, p_end)
                continue
            if cur:
                out.append((table, start, end - start, cur))
            cur, start, end = [p], p.address, p_end
        if cur:
            out.append((table, start, end - start, cur))
    return out


class _Poller:
    def __init__(self, adapter: ModbusAdapter, device: ModbusDevice) -> None:
        self.adapter, self.device = adapter, device
        self.plan = blocks(device.points)
        self.last: dict[str, float] = {}
        self.connected = False
        self.last_error = ""

    async def run(self) -> None:
        from pymodbus.client import AsyncModbusTcpClient

        d = self.device
        delay = 1.0
        while True:
            client = AsyncModbusTcpClient(d.host, port=d.port, timeout=d.timeout_s, retries=0,
                                          reconnect_delay=0, reconnect_delay_max=0)
            try:
                if not await client.connect():
                    raise ConnectionError(f"cannot connect to {d.host}:{d.port}")
                self.connected, delay = True, 1.0
                next_at = time.monotonic()
                while True:
                    await self.poll(client)
                    next_at += d.interval_s
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            except asyncio.CancelledError:
                client.close()
                raise
            except Exception as e:
                self.last_error = f"{d.name} ({d.host}:{d.port}): {type(e).__name__}: {e}"
            self.connected = False
            client.close()
            log.warning("Modbus %s: %s; retrying in %.0f s", d.name, self.last_error, delay)
            await asyncio.sleep(delay)
            delay = min(30.0, delay * 2)

    async def poll(self, client) -> None:
        now = time.time_ns() // 1000
        for table, start, count, points in self.plan:
            await self._read(client, table, start, count, points, now)

    async def _read(self, client, table: str, start: int, count: int, points: list[Point], now: int) -> None:
        d = self.device
        read = client.read_holding_registers if table == "holding" else client.read_input_registers
        rr = await read(start, count=count, device_id=d.unit)
        if rr.isError():
            if len(points) > 1:  # find the point the device refuses: read each on its own
                for p in points:
                    await self._read(client, table, p.address, WIDTH[p.type], [p], now)
                return
            code = getattr(rr, "exception_code", 0)
            reason = f"Modbus exception {code} ({EXCEPTIONS.get(code, 'unknown')}) reading {table} {start}+{count}"
            self.last_error = f"{d.name}: {reason}"
            self.adapter.counters["exception_responses"] += 1
            for p in points:  # the record shows the instrument failing, with the value it last had
                self.adapter.rows.add(p.tag, now, self.last.get(p.tag, 0.0), int(Quality.BAD))
            return
        regs = rr.registers
        for p in points:
            value = decode(regs[p.address - start:], p)
            self.last[p.tag] = value
            self.adapter.rows.add(p.tag, now, value, int(Quality.GOOD))


class ModbusAdapter:
    name = "modbus"

    def __init__(self, config: ModbusConfig, sink: Sink, index, flush_s: float = 0.1) -> None:
        self.config, self.flush_s = config, flush_s
        self.rows = RowBuffer(sink, index)
        self.pollers = [_Poller(self, d) for d in config.devices]
        self._tasks: list[asyncio.Task] = []
        self._main: asyncio.Task | None = None
        self.counters: Counter = Counter()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(p.run()) for p in self.pollers]
        self._main = asyncio.create_task(self._flusher())

    async def stop(self) -> None:
        for t in [*self._tasks, *([self._main] if self._main else [])]:
            t.cancel()
        for t in [*self._tasks, *([self._main] if self._main else [])]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._main = None
        await self.rows.flush()

    def health(self) -> Health:
        if self._main is None:
            return Health(self.name, "stopped")
        down = [p for p in self.pollers if not p.connected]
        errors = "; ".join(p.last_error for p in self.pollers if p.last_error)
        return Health(self.name, "degraded" if down else "running", errors, {
            "devices": len(self.pollers), "connected": len(self.pollers) - len(down), **self.counters,
            **self.rows.counters, "rejected_by_reason": dict(self.rows.rejections)})

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            await self.rows.flush()
