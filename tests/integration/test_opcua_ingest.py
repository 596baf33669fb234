"""OPC UA ingest against a real asyncua server started by the test: data changes arrive by
subscription with the server's timestamps, status codes become quality, and after the server goes
away and comes back the adapter reconnects and subscribes again by itself."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from hazwatch.app import make_api
from hazwatch.catalog.schema import CatalogDoc, EndpointDoc
from hazwatch.ingest.opcua import quality_of
from tests.conftest import TOKEN, build_services, make_settings
from tests.integration.test_mqtt_ingest import free_port, until

pytestmark = pytest.mark.services


class FieldServer:
    """An asyncua server in a thread of its own, with variables the test writes."""

    def __init__(self, port: int, tags: list[str]) -> None:
        self.port, self.tags = port, tags
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/field/"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.run(self._start())

    def run(self, coro, timeout: float = 20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        from asyncua import Server, ua

        self.server = Server()
        await self.server.init()
        self.server.set_endpoint(self.endpoint)
        idx = await self.server.register_namespace("urn:test:field")
        obj = await self.server.nodes.objects.add_object(idx, "Plant")
        self.vars = {t: await obj.add_variable(ua.NodeId(t, idx), t, 0.0, ua.VariantType.Double) for t in self.tags}
        await self.server.start()

    def write(self, tag: str, value: float, ts: float, status: int = 0) -> None:
        from asyncua import ua

        dv = ua.DataValue(ua.Variant(value, ua.VariantType.Double), StatusCode=ua.StatusCode(status),
                          SourceTimestamp=datetime.fromtimestamp(ts, UTC))
        self.run(self.vars[tag].write_value(dv))

    def stop(self) -> None:
        self.run(self.server.stop())

        async def settle() -> None:  # let the server's session tasks finish before the loop goes
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(settle())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_opcua_subscription_quality_and_reconnect(tmp_path):
    port = free_port()
    server = FieldServer(port, ["T-EA1", "T-EA1B"])
    services = build_services(make_settings(tmp_path), None)
    from hazwatch.catalog.io import load_file
    from tests.conftest import DATA

    doc = load_file(DATA / "tenants.yaml")
    sensors = [s.model_copy(update={"source": f"{server.endpoint}#ns=2;s={s.tag}"}) if s.tag in ("T-EA1", "T-EA1B")
               else s for s in doc.sensors]
    field = EndpointDoc(code="OPC-EA1", name="field server", org="EA1", address=server.endpoint)
    services.catalog.apply(CatalogDoc(orgs=doc.orgs, devices=doc.devices, sensors=sensors, endpoints=[field]), "test")
    services.pipeline.reload_catalog()
    adapter = next(a for a in services.adapters if a.name == "opcua")
    try:
        with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            assert until(lambda: adapter.health().counters.get("connected") == 1, 15), adapter.health()
            t0 = time.time() - 30
            server.write("T-EA1", 12.5, t0)
            server.write("T-EA1B", 7.0, t0 + 1, status=0x40000000)  # Uncertain
            server.write("T-EA1B", 7.5, t0 + 1.5, status=0x80000000)  # Bad: OPC UA sends it without its value
            server.write("T-EA1", 13.5, t0 + 2, status=0x40000000)  # Uncertain

            def series(tag):
                return api.get(f"/api/v1/sensors/{tag}/series", params={"start": t0 - 1, "end": t0 + 10}).json()

            assert until(lambda: len(series("T-EA1")["value"]) == 2 and len(series("T-EA1B")["value"]) == 1)
            s1 = series("T-EA1")
            assert s1["ts"] == [pytest.approx(t0, abs=1e-3), pytest.approx(t0 + 2, abs=1e-3)]  # the server's time
            assert s1["value"] == [12.5, 13.5] and s1["quality"] == ["good", "uncertain"]
            assert series("T-EA1B")["quality"] == ["uncertain"]
            assert until(lambda: adapter.health().counters.get("bad_status_without_value") == 1)

            server.stop()  # the plant's OPC UA server goes away ...
            assert until(lambda: adapter.health().state == "degraded", 15)
            server = FieldServer(port, ["T-EA1", "T-EA1B"])  # ... and comes back
            assert until(lambda: adapter.health().state == "running", 30), adapter.health()
            server.write("T-EA1", 14.5, t0 + 3)
            assert until(lambda: len(series("T-EA1")["value"]) == 3), adapter.health()
            assert adapter.health().counters["connects"] >= 2
    finally:
        server.stop()


def test_status_codes_map_to_quality():
    assert [quality_of(c) for c in (0, 0x00A00000, 0x40000000, 0x408F0000, 0x80000000, 0x80350000)] == \
        [0, 0, 1, 1, 2, 2]
