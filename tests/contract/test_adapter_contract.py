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
from hazwatch.ingest.adapter import Adapter
from hazwatch.ingest.mqtt import MqttAdapter
from hazwatch.ingest.opcua import OpcUaAdapter
from hazwatch.pipeline import IngestResult
from tests.conftest import DATA, build_services, make_settings
from tests.integration.test_mqtt_ingest import Publisher, binary, free_port, until, wait_port
from tests.integration.test_opcua_ingest import FieldServer

pytestmark = pytest.mark.services


class RecordingSink:
    def __init__(self) -> None:
        self.readings: list[tuple[str, int, float]] = []
        self.lock = threading.Lock()

    def __call__(self, raw) -> Future:
        with self.lock:
            self.readings += list(zip(raw.tags, raw.ts.tolist(), raw.value.tolist(), strict=True))
        f: Future = Future()
        f.set_result(IngestResult(len(raw), []))
        return f


@dataclass
class Rig:
    adapter: Adapter
    sink: RecordingSink
    send: Callable[[str, float, float], None]  # tag, ts (s), value
    ready: Callable[[], bool]


def _index(tmp_path, source: str | None = None) -> SensorIndex:
    services = build_services(make_settings(tmp_path), None)
    doc = load_file(DATA / "tenants.yaml")
    if source:
        doc = doc.model_copy(update={"sensors": [s.model_copy(update={"source": f"{source}#ns=2;s={s.tag}"})
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
              lambda: adapter.health().counters.get("connected") == 1)
    server.stop()


@pytest.fixture(params=["mqtt", "opcua"])
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
        sent = [("T-EA1", t0 + i, float(i)) for i in range(3)] + [("T-EA2", t0 + 5, 42.0)]
        for tag, ts, value in sent:
            await asyncio.to_thread(rig.send, tag, ts, value)
            await asyncio.sleep(0.15)  # the field's own pace
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(
                any(r[0] == t and abs(r[1] / 1e6 - ts) < 1e-3 and r[2] == v for r in rig.sink.readings)
                for t, ts, v in sent):
            await asyncio.sleep(0.05)
        for tag, ts, value in sent:
            assert any(r[0] == tag and abs(r[1] / 1e6 - ts) < 1e-3 and r[2] == value for r in rig.sink.readings), \
                (tag, ts, value, rig.sink.readings)
        assert a.health().state == "running"
        await a.stop()
        assert a.health().state == "stopped"
        n = len(rig.sink.readings)
        await asyncio.to_thread(rig.send, "T-EA1", t0 + 50, 9.0)
        await asyncio.sleep(0.5)
        assert len(rig.sink.readings) == n

    asyncio.run(scenario())


def test_until_helper_is_shared():  # the rigs above reuse the integration tests' helpers
    assert until(lambda: True, 0.1)
