"""The gateway's loop: the field adapters hand batches to the spool (fsync before they count as
taken); a forwarder sends the spool to the platform oldest first, one signed batch per record,
and commits a record only when the platform has it. While the uplink is down the spool fills (up
to its bound, by its policy); when it is back the backlog drains in order while new readings keep
joining the end. Each record's spool offset is its sequence number, so a resent batch that the
platform already stored answers "replayed" and is dropped: at-least-once delivery onto idempotent
ingest, the effect exactly once."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections import Counter
from concurrent.futures import Future

import httpx
import orjson

from hazwatch.domain.batch import QUALITY_NAMES, US, IngestResult, RawBatch
from hazwatch.domain.signing import SEQUENCE_HEADER, SIGNATURE_HEADER, sign
from hazwatch.ingest.adapter import Health
from hazwatch.ingest.edge.config import EdgeConfig
from hazwatch.ingest.modbus import ModbusAdapter
from hazwatch.ingest.opcua import OpcUaAdapter
from hazwatch.ingest.spool import Spool, SpoolFull

log = logging.getLogger(__name__)
STORED, REFUSED, RETRY = "stored", "refused", "retry"  # what became of one forwarded record


class EdgeGateway:
    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.secret = config.uplink.device_secret()
        self.spool = Spool(config.spool.dir, max_bytes=config.spool.max_bytes, policy=config.spool.policy)
        self.counters: Counter = Counter()
        self.uplink_ok = False
        self.last_error = ""
        self.adapters: list = []
        if config.opcua:
            self.adapters.append(OpcUaAdapter(self.take, None, endpoints={
                s.endpoint: s.nodes for s in config.opcua}))
        if config.modbus is not None:
            self.adapters.append(ModbusAdapter(config.modbus, self.take, None))
        self._forwarder: asyncio.Task | None = None

    # -- the field side: the adapters' sink -----------------------------------------------------------------
    def take(self, raw: RawBatch) -> Future:
        body = orjson.dumps({"sensor": raw.tags, "ts": (raw.ts / US).tolist(), "value": raw.value.tolist(),
                             "quality": [QUALITY_NAMES[q] for q in raw.quality.tolist()]})
        fut: Future = Future()
        try:
            self.spool.append([body])
        except SpoolFull as e:  # policy "refuse": the field's readings wait at the source
            self.counters["refused_full"] += len(raw)
            fut.set_exception(e)
            return fut
        self.counters["readings_spooled"] += len(raw)
        fut.set_result(IngestResult(len(raw), []))
        return fut

    # -- the uplink side ------------------------------------------------------------------------------------
    async def _drain(self, send) -> None:
        """Forward the spool oldest first, one record at a time. `send(body, seq)` answers STORED
        (commit), REFUSED (the platform will never take it: commit, and say so) or RETRY (keep it,
        back off, send it again)."""
        up = self.config.uplink
        delay = 1.0
        while True:
            records, offset = self.spool.read(max_records=1)
            if not records:
                await asyncio.sleep(0.05)
                continue
            outcome = await send(records[0], offset)  # the record's offset is its sequence number
            if outcome != RETRY:
                self.spool.commit(offset)
                if outcome == STORED:
                    self.uplink_ok, delay = True, 1.0
                continue
            self.uplink_ok = False
            self.spool.rewind()
            log.warning("%s; retrying in %.0f s", self.last_error, delay)
            await asyncio.sleep(delay)
            delay = min(up.max_backoff_s, delay * 2)

    async def _forward_http(self) -> None:
        up = self.config.uplink
        async with httpx.AsyncClient(base_url=up.url, timeout=up.timeout_s) as client:

            async def send(body: bytes, seq: int) -> str:
                try:
                    r = await client.post("/api/v1/telemetry", content=body, headers={
                        "Authorization": f"Bearer {self.secret}", "Content-Type": "application/json",
                        SEQUENCE_HEADER: str(seq), SIGNATURE_HEADER: sign(self.secret, seq, body)})
                except httpx.HTTPError as e:
                    self.last_error = f"uplink unreachable: {type(e).__name__}: {e}"
                    return RETRY
                if r.status_code in (200, 409):
                    # 409: a batch sent before whose answer was lost; the platform has its readings
                    self.counters["batches_forwarded" if r.status_code == 200 else "batches_already_there"] += 1
                    return STORED
                if r.status_code in (400, 413, 422):  # keep the line moving, say so
                    self.last_error = f"batch at {seq} refused for good: {r.status_code} {r.text[:200]}"
                    log.error(self.last_error)
                    self.counters["batches_refused"] += 1
                    return REFUSED
                self.last_error = f"uplink answered {r.status_code}: {r.text[:200]}"
                return RETRY

            await self._drain(send)

    async def _forward_mqtt(self) -> None:
        """Each record as a signed envelope on the gateway's own telemetry topic, QoS 1; stored once
        the broker has acknowledged it. The platform checks signature and sequence as over HTTP."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from hazwatch.ingest.mqtt import Broker

        up = self.config.uplink
        broker = Broker.parse(up.url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"hazwatch-edge-{up.device}",
                             protocol=mqtt.MQTTv311)
        client.username_pw_set(up.device, self.secret)
        if broker.tls:
            client.tls_set()
        client.reconnect_delay_set(1, int(up.max_backoff_s))
        client.connect_async(broker.host, broker.port, keepalive=30)
        client.loop_start()
        topic = f"hz/v1/{up.enterprise}/{up.device}/telemetry"

        async def send(body: bytes, seq: int) -> str:
            envelope = orjson.dumps({"signed": {"credential": up.credential, "sequence": seq,
                                                "signature": sign(self.secret, seq, body),
                                                "body": base64.b64encode(body).decode()}})
            try:
                info = client.publish(topic, envelope, qos=1)
                await asyncio.to_thread(info.wait_for_publish, up.timeout_s)
            except (RuntimeError, ValueError) as e:
                self.last_error = f"broker: {e}"
                return RETRY
            if not info.is_published():
                self.last_error = "broker did not acknowledge in time"
                return RETRY
            self.counters["batches_forwarded"] += 1
            return STORED

        try:
            await self._drain(send)
        finally:
            client.disconnect()
            client.loop_stop()

    async def start(self) -> None:
        for a in self.adapters:
            await a.start()
        self._forwarder = asyncio.create_task(self._forward_mqtt() if self.config.uplink.mqtt else self._forward_http())

    async def stop(self) -> None:
        for a in self.adapters:
            await a.stop()
        if self._forwarder is not None:
            self._forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._forwarder
        self.spool.close()

    def health(self) -> Health:
        state = "running" if self.uplink_ok else "degraded"
        return Health("edge", state, "" if self.uplink_ok else self.last_error, {
            **self.counters, "spool_pending_bytes": self.spool.pending_bytes(),
            "spool_dropped_bytes": self.spool.dropped_bytes,
            "adapters": [a.health().as_dict() for a in self.adapters]})

    async def run_forever(self) -> None:
        await self.start()
        try:
            while True:
                await asyncio.sleep(3600)
        finally:
            await self.stop()
