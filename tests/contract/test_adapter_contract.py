"""One contract for every protocol adapter, run on each (DESIGN: integrations share one setup
contract): it reports `stopped` until started; once started it hands what the field sends to the
sink as raw batches of known sensors with the field's values and times; `stop` leaves it `stopped`
and nothing reaches the sink afterwards."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass

import pytest

from hazwatch.catalog.index import SensorIndex
from hazwatch.catalog.io import load_file
from hazwatch.catalog.schema import EndpointDoc
from hazwatch.domain.batch import IngestResult
from hazwatch.ingest.adapter import Adapter
from hazwatch.ingest.mqtt import MqttAdapter
from hazwatch.ingest.opcua import OpcUaAdapter
from tests.conftest import DATA, build_services, make_settings
from tests.integration.test_mqtt_ingest import Publisher, binary, free_port, until, wait_port
from tests.integration.test_opcua_ingest import FieldServer

pytestmark = pytest.mark.services


class RecordingSink:
    def __init__(self) -> None:
        self.readings: list[tuple[str, int, float]] = []
        self.quality: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, raw) -> Future:
        with self.lock:
            self.readings += list(zip(raw.tags, raw.ts.tolist(), raw.value.tolist(), strict=True))
            self.quality += raw.quality.tolist()
        f: Future = Future()
        f.set_result(IngestResult(len(raw), []))
        return f


@dataclass
class Rig:
    adapter: Adapter
    sink: RecordingSink
    send: Callable[[str, float, float], None]  # tag, ts (s), value
    ready: Callable[[], bool]
    polled: bool = False  # the adapter polls: readings carry the poll's time, not the sender's


def _index(tmp_path, source: str | None = None) -> SensorIndex:
    services = build_services(make_settings(tmp_path), None)
    doc = load_file(DATA / "tenants.yaml")
    if source:
        # each enterprise reads through an endpoint registered for it (here two paths of one server)
        points = {e: f"{source}{e}" for e in ("EA1", "EA2", "EB1")}
        org_of = {d.code: d.org for d in doc.devices}
        doc = doc.model_copy(update={
            "endpoints": [*doc.endpoints, *(EndpointDoc(code=f"OPC-{e}", name="field server", org=e, address=a)
                                            for e, a in points.items())],
            "sensors": [s.model_copy(update={"source": f"{points[org_of[s.device]]}#ns=2;s={s.tag}"})
                        for s in doc.sensors]})
    services.catalog.apply(doc, "test")
    services.pipeline.reload_catalog()
    return services.pipeline.index


@pytest.fixture
def mqtt_rig(tmp_path) -> Iterator[Rig]:
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary("mosquitto", "/usr/sbin/mosquitto"), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    index = _index(tmp_path)
    sink = RecordingSink()
    adapter = MqttAdapter(f"mqtt://127.0.0.1:{port}", tmp_path / "spool", sink, lambda: index, client_id="contract")
    pub: list[Publisher] = []

    def send(tag: str, ts: float, value: float) -> None:
        if not pub:
            pub.append(Publisher(port, "contract-pub"))
        device = {"T-EA1": "EA1/D-EA1", "T-EA2": "EA2/D-EA2"}[tag]
        pub[0].send(f"hz/v1/{device}/telemetry", json.dumps({"sensor": [tag], "ts": [ts], "value": [value]}))

    yield Rig(adapter, sink, send, adapter.connected)
    for p in pub:
        p.close()
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def opcua_rig(tmp_path) -> Iterator[Rig]:
    server = FieldServer(free_port(), ["T-EA1", "T-EA2"])
    index = _index(tmp_path, server.endpoint)
    sink = RecordingSink()
    adapter = OpcUaAdapter(sink, lambda: index)
    yield Rig(adapter, sink, lambda tag, ts, value: server.write(tag, value, ts),
              lambda: adapter.health().counters.get("connected") == 2)  # EA1's and EA2's endpoints
    server.stop()


class ModbusField:
    """A Modbus TCP server in a thread of its own; the test sets registers through it."""

    def __init__(self, port: int, size: int = 64) -> None:
        from hazwatch.sim.modbus_server import RegisterServer

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = RegisterServer(size, "127.0.0.1", port)
        self.task = asyncio.run_coroutine_threadsafe(self.server.serve(), self.loop)
        wait_port(port)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def modbus_rig(tmp_path) -> Iterator[Rig]:
    from hazwatch.ingest.modbus import ModbusAdapter, ModbusConfig, ModbusDevice, Point

    port = free_port()
    field = ModbusField(port)
    points = {"T-EA1": Point(tag="T-EA1", address=0, type="float32"),
              "T-EA2": Point(tag="T-EA2", address=2, type="int16", scale=0.5)}
    config = ModbusConfig(devices=[ModbusDevice(name="plc", host="127.0.0.1", port=port, interval_s=0.05,
                                                points=list(points.values()))])
    index = _index(tmp_path)
    sink = RecordingSink()
    adapter = ModbusAdapter(config, sink, lambda: index)

    def send(tag: str, _ts: float, value: float) -> None:
        field.server.set(points[tag], value)  # a poll reads it at the poll's time, not the field's

    yield Rig(adapter, sink, send, lambda: adapter.health().counters.get("connected") == 1, polled=True)
    field.stop()


@pytest.fixture(params=["mqtt", "opcua", "modbus"])
def rig(request) -> Rig:
    return request.getfixturevalue(f"{request.param}_rig")


def test_adapter_contract(rig: Rig):
    async def scenario() -> None:
        a = rig.adapter
        assert a.name and a.health().state == "stopped"
        await a.start()
        assert a.health().state in ("running", "degraded")
        while not rig.ready():
            await asyncio.sleep(0.05)
        t0 = time.time() - 100
        sent = [("T-EA1", t0 + i, float(i + 1)) for i in range(3)] + [("T-EA2", t0 + 5, 42.0)]

        def arrived(tag: str, ts: float, value: float) -> bool:
            return any(r[0] == tag and r[2] == value and (rig.polled or abs(r[1] / 1e6 - ts) < 1e-3)
                       for r in rig.sink.readings)

        for tag, ts, value in sent:
            await asyncio.to_thread(rig.send, tag, ts, value)
            await asyncio.sleep(0.15)  # the field's own pace
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(arrived(*x) for x in sent):
            await asyncio.sleep(0.05)
        for x in sent:
            assert arrived(*x), (x, rig.sink.readings)
        assert a.health().state == "running"
        await a.stop()
        assert a.health().state == "stopped"
        n = len(rig.sink.readings)
        await asyncio.to_thread(rig.send, "T-EA1", t0 + 50, 9.0)
        await asyncio.sleep(0.5)
        assert len(rig.sink.readings) == n


def test_modbus_exception_responses_become_bad_readings_with_the_reason(tmp_path):
    from hazwatch.ingest.modbus import ModbusAdapter, ModbusConfig, ModbusDevice, Point

    port = free_port()
    field = ModbusField(port, size=4)
    good, missing = Point(tag="T-EA1", address=0, type="float32"), Point(tag="T-EA2", address=100, type="uint16")
    field.server.set(good, 12.5)
    config = ModbusConfig(devices=[ModbusDevice(name="plc", host="127.0.0.1", port=port, interval_s=0.05,
                                                points=[good, missing])])
    index = _index(tmp_path)
    sink = RecordingSink()
    adapter = ModbusAdapter(config, sink, lambda: index)

    async def scenario():
        await adapter.start()
        for _ in range(100):
            if any(r[0] == "T-EA2" for r in sink.readings) and any(r[0] == "T-EA1" for r in sink.readings):
                break
            await asyncio.sleep(0.05)
        health = adapter.health()
        await adapter.stop()
        return health

    try:
        h = asyncio.run(scenario())
    finally:
        field.stop()
    by_tag: dict[str, set] = {}
    for (tag, _ts, value), q in zip(sink.readings, sink.quality, strict=True):
        by_tag.setdefault(tag, set()).add((value, q))
    assert by_tag["T-EA1"] == {(12.5, 0)}  # good
    assert by_tag["T-EA2"] == {(0.0, 2)}  # bad, with the last value it had (none yet: 0)
    assert h.state == "running" and h.counters["exception_responses"] >= 1  # the device answers; a point is bad
    assert "Modbus exception 2 (illegal data address) reading holding 100+1" in h.detail

    asyncio.run(scenario())


def test_until_helper_is_shared():  # the rigs above reuse the integration tests' helpers
    assert until(lambda: True, 0.1)
