"""OPC UA ingest (asyncua): for every endpoint named in the catalog's sensor sources
(`opc.tcp://host:4840#ns=2;s=TK103.LT`), one session with one subscription to data changes (the
server pushes; nothing polls). Each notification becomes a reading stamped with the server's
source timestamp and a quality from its status code. A lost session is noticed by a keep-alive
check and re-established with growing back-off (1 s doubling to 30 s), subscriptions and all; a
catalog change re-reads the sources.

Notifications are gathered for `flush_s` and handed to the sink as one batch, so a server pushing
thousands of changes a second costs one pipeline pass per flush, not one per value."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable

from hazwatch.catalog.endpoints import EndpointBook, endpoint_part
from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.batch import US, Quality
from hazwatch.ingest.adapter import Health, RowBuffer, Sink

log = logging.getLogger(__name__)
PREFIX = "opc.tcp://"


def quality_of(status_code_value: int) -> int:
    """OPC UA status codes carry their severity in the top two bits: 00 good, 01 uncertain, 1x bad."""
    severity = (status_code_value >> 30) & 0b11
    return int(Quality.GOOD if severity == 0 else Quality.UNCERTAIN if severity == 1 else Quality.BAD)


def sources(index: SensorIndex) -> dict[str, dict[str, str]]:
    """endpoint -> {node id: tag} for every sensor the server reads over OPC UA, at endpoints
    registered for the sensor's own enterprise only: an address no installation administrator
    registered for it is never connected to, whatever a stored catalog row says."""
    book = EndpointBook(dict(index.endpoints or {}))
    out: dict[str, dict[str, str]] = {}
    for sid, info in index.info.items():
        src = info.get("source")
        if src and src.startswith(PREFIX) and info.get("in_use", True):
            endpoint = endpoint_part(src)
            if endpoint is None or book.owner(src) != int(index.org_id[sid]):
                log.warning("OPC UA source of %s is not at an endpoint registered for its enterprise: not read",
                            info["tag"])
                continue
            out.setdefault(endpoint, {})[src.partition("#")[2]] = info["tag"]
    return out


class _Handler:
    def __init__(self, session: _Session) -> None:
        self.session = session

    def datachange_notification(self, node, val, data) -> None:
        self.session.on_change(node, val, data)

    def status_change_notification(self, status) -> None:
        self.session.lost.set()


class _Session:
    """One endpoint: connect, subscribe, watch, reconnect; forever until cancelled."""

    def __init__(self, adapter: OpcUaAdapter, endpoint: str, nodes: dict[str, str]) -> None:
        self.adapter, self.endpoint, self.nodes = adapter, endpoint, nodes
        self.by_node: dict[str, str] = {}
        self.lost = asyncio.Event()
        self.connected = False
        self.last_error = ""

    def on_change(self, node, val, data) -> None:
        tag = self.by_node.get(node.nodeid.to_string())
        if tag is None:
            return
        dv = data.monitored_item.Value
        ts = dv.SourceTimestamp or dv.ServerTimestamp
        ts_us = int(ts.timestamp() * US) if ts is not None else time.time_ns() // 1000
        code = dv.StatusCode.value if dv.StatusCode is not None else 0
        try:
            value = float(val)
        except (TypeError, ValueError):
            # A Bad status usually carries no value: there is nothing to store. The sensor's STALE
            # watch reports an instrument that stays in that state.
            self.adapter.counters["bad_status_without_value"] += 1
            return
        self.adapter.rows.add(tag, ts_us, value, quality_of(code))

    async def run(self) -> None:
        from asyncua import Client, ua

        delay = 1.0
        while True:
            client = Client(self.endpoint, timeout=self.adapter.timeout_s)
            try:
                await client.connect()
                sub = await client.create_subscription(self.adapter.publish_ms, _Handler(self))
                handles = [client.get_node(n) for n in self.nodes]
                self.by_node = {h.nodeid.to_string(): self.nodes[n] for n, h in zip(self.nodes, handles, strict=True)}
                # Trigger on status, value *or source timestamp*: a steady value sampled again is a new
                # reading (otherwise a stable process looks stale), and a queue on the server side keeps
                # changes faster than the publishing interval from being folded into one.
                changes = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
                await sub._subscribe(handles, ua.AttributeIds.Value, changes, self.adapter.queue_size)
                self.connected, self.lost = True, asyncio.Event()
                self.adapter.counters["connects"] += 1
                delay = 1.0
                while not self.lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.lost.wait(), self.adapter.check_s)
                    if not self.lost.is_set():
                        await asyncio.wait_for(client.check_connection(), self.adapter.timeout_s)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), 2)
                raise
            except Exception as e:  # server gone, refused, timed out: try again later
                self.last_error = f"{self.endpoint}: {type(e).__name__}: {e}"
            self.connected = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 2)
            log.warning("OPC UA %s: connection lost (%s); retrying in %.0f s", self.endpoint, self.last_error, delay)
            await asyncio.sleep(delay)
            delay = min(30.0, delay * 2)


class OpcUaAdapter:
    name = "opcua"

    def __init__(self, sink: Sink, index: Callable[[], SensorIndex] | None, flush_s: float = 0.1,
                 publish_ms: int = 100, check_s: float = 1.0, timeout_s: float = 4.0, queue_size: int = 100,
                 endpoints: dict[str, dict[str, str]] | None = None) -> None:
        """`endpoints` ({endpoint: {node id: tag}}) fixes what to read (the edge gateway's config);
        without it the sources come from the catalog and follow its changes."""
        self.endpoints = endpoints
        self.index, self.queue_size = index, queue_size
        self.flush_s, self.publish_ms, self.check_s, self.timeout_s = flush_s, publish_ms, check_s, timeout_s
        self.rows = RowBuffer(sink, index)
        self.sessions: dict[str, _Session] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._main: asyncio.Task | None = None
        self._revision = -1
        self.counters: Counter = Counter()

    async def start(self) -> None:
        self._main = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._main
        await self._stop_sessions()
        await self.rows.flush()

    async def _stop_sessions(self) -> None:
        for t in self._tasks.values():
            t.cancel()
        for t in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks, self.sessions = {}, {}

    def health(self) -> Health:
        if self._main is None or self._main.done():
            return Health(self.name, "stopped")
        down = [s for s in self.sessions.values() if not s.connected]
        state = "degraded" if down else "running"
        return Health(self.name, state, "; ".join(s.last_error for s in down if s.last_error), {
            "endpoints": len(self.sessions), "connected": len(self.sessions) - len(down), **self.counters,
            **self.rows.counters, "rejected_by_reason": dict(self.rows.rejections)})

    async def _run(self) -> None:
        while True:
            revision = self.index().revision if self.endpoints is None and self.index is not None else 0
            if revision != self._revision:
                self._revision = revision
                await self._stop_sessions()
                wanted = self.endpoints if self.endpoints is not None else sources(self.index())
                for endpoint, nodes in wanted.items():
                    s = self.sessions[endpoint] = _Session(self, endpoint, nodes)
                    self._tasks[endpoint] = asyncio.create_task(s.run())
            await asyncio.sleep(self.flush_s)
            await self.rows.flush()
