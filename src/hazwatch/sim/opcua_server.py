"""The demo park as a real OPC UA server (asyncua): one Double variable per sensor,
`ns=<idx>;s=<tag>`, updated once a second from the park simulator with source timestamps and
status codes (a reading of bad quality is published as Bad), so the OPC UA adapter and the edge
gateway can be shown end to end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hazwatch.catalog.schema import CatalogDoc, EndpointDoc
from hazwatch.domain.batch import US, Quality
from hazwatch.sim.plant import ParkSimulator

NAMESPACE = "urn:hazwatch:sim"


def with_sources(doc: CatalogDoc, endpoint: str, ns: int = 2) -> CatalogDoc:
    """The catalog with each sensor's source pointing at this server (for `hazwatch catalog import`),
    and the server registered as a field endpoint of each enterprise. One simulated server stands
    for every enterprise's own, so each enterprise reaches it under a path of its own (an endpoint
    belongs to one enterprise; the server answers on any path)."""
    org_of = {d.code: d.org for d in doc.devices}
    at = {o.code: f"{endpoint.rstrip('/')}/{o.code}" for o in doc.orgs if o.code in set(org_of.values())}
    points = [EndpointDoc(code=f"OPC-SIM-{org}", name="Simulated park OPC UA server", org=org, address=a)
              for org, a in at.items()]
    return doc.model_copy(update={
        "endpoints": [*doc.endpoints, *points],
        "sensors": [s.model_copy(update={"source": f"{at[org_of[s.device]]}#ns={ns};s={s.tag}"})
                    for s in doc.sensors]})


async def serve_park(doc: CatalogDoc, port: int, host: str = "127.0.0.1", period_s: float = 1.0,
                     ready: Callable[[str], None] | None = None, stop: asyncio.Event | None = None,
                     actuators: dict[str, float] | None = None) -> None:
    """`actuators`: writable Double variables (`ns=<idx>;s=<name>`, e.g. an isolation valve's
    position) with their initial values, for interlock writes to land on."""
    from asyncua import Server, ua

    server = Server()
    await server.init()
    endpoint = f"opc.tcp://{host}:{port}/hazwatch/"
    server.set_endpoint(endpoint)
    server.set_server_name("Hazwatch simulated park")
    idx = await server.register_namespace(NAMESPACE)
    park = await server.nodes.objects.add_object(idx, "Park")
    variables = {}
    for s in doc.sensors:
        variables[s.tag] = await park.add_variable(ua.NodeId(s.tag, idx), s.tag, 0.0, ua.VariantType.Double)
    for name, initial in (actuators or {}).items():
        node = await park.add_variable(ua.NodeId(name, idx), name, float(initial), ua.VariantType.Double)
        await node.set_writable()
    sim = ParkSimulator(doc)
    async with server:
        if ready is not None:
            ready(endpoint)
        k = 0
        start = time.monotonic()
        while stop is None or not stop.is_set():
            tags, ts, values, quality = sim.step(float(k), time.time_ns() // 1000)
            for tag, t, v, q in zip(tags, ts.tolist(), values.tolist(), quality.tolist(), strict=True):
                status = ua.StatusCode(ua.StatusCodes.Good if q == Quality.GOOD else
                                       ua.StatusCodes.Uncertain if q == Quality.UNCERTAIN else ua.StatusCodes.Bad)
                dv = ua.DataValue(ua.Variant(float(v), ua.VariantType.Double), StatusCode=status,
                                  SourceTimestamp=_dt(t), ServerTimestamp=_dt(t))
                await variables[tag].write_value(dv)
            k += 1
            await asyncio.sleep(max(0.0, start + k * period_s - time.monotonic()))


def _dt(ts_us: int):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_us / US, UTC)
