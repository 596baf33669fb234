"""MQTT ingest: `hz/v1/{enterprise}/{device}/telemetry` (the HTTP payloads, QoS 1) and
`hz/v1/{enterprise}/{device}/status` (`online` / `offline`, the latter usually a last will).

Why two processes. A broker drops QoS 1 messages for a subscriber that falls behind (Mosquitto
once its per-client queue is full), so the platform must never be slow to acknowledge, and it may
only acknowledge what is durable. The receiver is a small process of its own: it takes messages
off the socket, appends them to a local spool with one fsync per group (a few milliseconds), and
only then sends their PUBACKs (paho's manual acknowledgement). The server drains the spool into
the pipeline at its own pace. Under overload the spool grows on disk; nothing is dropped. The
session is persistent (clean_session false), so messages that arrive while the receiver is down
wait in the broker. A message spooled but not yet acknowledged when the receiver dies comes again
after the restart; the pipeline refuses the second copy as a duplicate (sensor, ts), so each
reading is stored once.

The receiver speaks MQTT itself (`mqttwire`): it takes whatever the socket holds as one group,
spools it with one fsync and acknowledges it in one write, which a client library handing over one
message per callback cannot do at the rates a broker delivers."""

from __future__ import annotations

import base64
import logging
import multiprocessing as mp
import os
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import msgspec
import numpy as np

from hazwatch.catalog.index import SensorIndex
from hazwatch.domain.batch import RawBatch
from hazwatch.domain.errors import ServiceError
from hazwatch.ingest.adapter import BatchVerifier, Health, Sink, reason_kind
from hazwatch.ingest.mqttwire import MqttError, OldBroker, Session
from hazwatch.ingest.payload import Columns, PayloadError, arrays, columns
from hazwatch.ingest.procsignal import Flag, Wakeup
from hazwatch.ingest.spool import Spool, SpoolFull

log = logging.getLogger(__name__)
ROOT = "hz/v1"
TELEMETRY = f"{ROOT}/+/+/telemetry"
STATUS = f"{ROOT}/+/+/status"
_TOPIC_LEN = struct.Struct("<H")


class _Signed(msgspec.Struct, forbid_unknown_fields=True):
    credential: int
    sequence: int
    signature: str
    body: str  # base64 of the telemetry body, signed as sent


class _Envelope(msgspec.Struct, forbid_unknown_fields=True):
    signed: _Signed


_envelope = msgspec.json.Decoder(_Envelope)
# Messages the broker may have in flight to the receiver (MQTT 5 Receive Maximum, the most there
# is): one fsync covers as many as arrived together, and while a slow fsync holds the receiver up
# the broker keeps sending into the socket instead of queueing, where its limit drops messages.
RECEIVE_MAXIMUM = 65535
# The server drains the spool at most once per this long: a few milliseconds more latency, and
# under load the pipeline takes hundreds of messages per round instead of a few.
DRAIN_ROUND_S = 0.005
# The spool's read position is written down at most this often (and whenever the drain is idle):
# after a crash the records since then are read again and refused as duplicates, stored once.
COMMIT_EVERY_S = 0.1


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> Broker:
        u = urlsplit(url)
        if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"HAZWATCH_MQTT_URL: {url!r} is not mqtt://host:port or mqtts://host:port")
        tls = u.scheme in ("mqtts", "ssl")
        return cls(u.hostname or "127.0.0.1", u.port or (8883 if tls else 1883),
                   unquote(u.username) if u.username else None, unquote(u.password) if u.password else None, tls)


def encode(topic: str, payload: bytes) -> bytes:
    """A spool record: the topic's length, the topic, the payload as received."""
    t = topic.encode()
    return _TOPIC_LEN.pack(len(t)) + t + payload


def _route(raw_topic: bytes, index: SensorIndex) -> tuple[str, str, str, int] | None:
    """(kind, device code, topic, device id or -1) of a topic under hz/v1/{enterprise}/{device}/;
    None for any other topic. A device is known only under its own enterprise."""
    topic = raw_topic.decode(errors="replace")
    bits = topic.split("/")
    if len(bits) != 5 or bits[0] != "hz" or bits[1] != "v1":
        return None
    _, _, enterprise, device, kind = bits
    known = index.devices.get(device)
    return kind, device, topic, (known.id if known and known.enterprise == enterprise else -1)


def split(record: bytes) -> tuple[str, bytes]:
    (n,) = _TOPIC_LEN.unpack_from(record)
    return record[2:2 + n].decode(errors="replace"), record[2 + n:]


# -- the receiver process -------------------------------------------------------------------------------
def run_receiver(url: str, spool_dir: str, client_id: str, stop: Flag, connected: Flag, max_bytes: int = 8 << 30,
                 flush_s: float = 0.002, share_group: str | None = None, spooled: Wakeup | None = None,
                 server_pid: int | None = None) -> None:
    """Process entry point: subscribe, spool, fsync, acknowledge; until `stop` is set. Each round
    takes every message the socket holds, spools them with one fsync and then acknowledges them
    in one write. With a share group the subscriptions are shared ($share/<group>/...): the broker
    gives each message to one of the group's receivers (several ingest nodes), not to all. On any
    connection failure it reconnects with a growing pause; what was spooled and not acknowledged
    comes again and the pipeline stores it once. `spooled` is nudged after each group, so the
    server's drain starts on it at once instead of at its next poll. The receiver also ends when
    the server is gone without a word (killed), so it never outlives it."""
    del flush_s  # groups are what the socket holds: no timer
    broker = Broker.parse(url)
    spool = Spool(Path(spool_dir), max_bytes=max_bytes)
    share = f"$share/{share_group}/" if share_group else ""
    delay, version = 1.0, 5
    parent = server_pid or os.getppid()  # given by the server: it may be gone before this line runs

    def done() -> bool:
        """Stopped, or the server is gone (killed: it set no flag). An orphan would hold the
        broker session against the restarted server's receiver and write into its spool."""
        return os.getppid() != parent or stop.is_set()

    def pause(seconds: float) -> None:
        end = time.monotonic() + seconds
        while not done() and time.monotonic() < end:
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))

    try:
        while not done():
            try:
                session = Session(broker.host, broker.port, client_id, [share + TELEMETRY, share + STATUS],
                                  username=broker.username, password=broker.password, tls=broker.tls,
                                  receive_maximum=RECEIVE_MAXIMUM, version=version)
            except OldBroker as e:
                if version == 5:
                    version = 4
                    continue
                log.warning("MQTT broker %s:%s: %s", broker.host, broker.port, e)
                pause(delay)
                continue
            except (OSError, MqttError) as e:
                log.warning("MQTT broker %s:%s: %s; trying again in %.0f s", broker.host, broker.port, e, delay)
                pause(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            connected.set()
            try:
                while not done():
                    group = session.read()
                    if group.records:
                        _spool_durably(spool, group.records, done)
                        session.ack(group)
                        if spooled is not None:
                            spooled.notify()
            except (OSError, MqttError) as e:
                log.warning("MQTT connection lost: %s; reconnecting", e)
            finally:
                connected.clear()
                session.close()
    finally:
        spool.close()


def _spool_durably(spool: Spool, records: list[bytes], done: Callable[[], bool]) -> None:
    """Append with fsync; while the spool is full nothing is acknowledged and the broker keeps
    the messages (the connection stays open, so they are not redelivered twice)."""
    while True:
        try:
            spool.append(records)
            return
        except SpoolFull as e:
            log.error("%s; waiting for the server to drain it", e)
            time.sleep(0.5)
            if done():
                raise


# -- the server side ----------------------------------------------------------------------------------------
class MqttAdapter:
    """Starts the receiver process and drains its spool into the sink."""

    name = "mqtt"

    def __init__(self, url: str, spool_dir: Path, sink: Sink, index: Callable[[], SensorIndex],
                 client_id: str = "hazwatch-ingest", max_readings: int = 100_000,
                 on_status: Callable[[str, bool, int], None] | None = None, spool_max_bytes: int = 8 << 30,
                 signatures: BatchVerifier | None = None, require_signed: bool = False,
                 share_group: str | None = None) -> None:
        self.signatures, self.require_signed, self.share_group = signatures, require_signed, share_group
        Broker.parse(url)  # refuse a bad URL at start-up, not in the child
        self.url, self.spool_dir, self.sink, self.index = url, Path(spool_dir), sink, index
        self.client_id, self.max_readings, self.spool_max_bytes = client_id, max_readings, spool_max_bytes
        self.on_status = on_status  # (device code, online: bool, at µs) -> None
        ctx = mp.get_context("spawn")
        self._ctx = ctx
        self._stop, self._connected, self._spooled = Flag(ctx), Flag(ctx), Wakeup(ctx)
        self._proc: mp.process.BaseProcess | None = None
        self._drain: threading.Thread | None = None
        self._running = False
        self._spool = Spool(self.spool_dir, writer=False)
        self.counters: Counter = Counter()
        self.rejections: Counter = Counter()
        self.last_error = ""

    async def start(self) -> None:
        self._stop.clear()
        self._proc = self._ctx.Process(target=run_receiver, name="hazwatch-mqtt",
                                       args=(self.url, str(self.spool_dir), self.client_id, self._stop,
                                             self._connected, self.spool_max_bytes, 0.002, self.share_group,
                                             self._spooled, os.getpid()),
                                       daemon=True)
        self._proc.start()
        self._running = True
        self._drain = threading.Thread(target=self._drain_loop, name="mqtt-drain", daemon=True)
        self._drain.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._proc is not None:
            self._proc.join(10)
        self._running = False  # the drain thread empties what the receiver spooled, then ends
        if self._drain is not None:
            self._drain.join(30)
        self._spool.close()

    def connected(self) -> bool:
        return self._connected.is_set()

    def health(self) -> Health:
        alive = self._proc is not None and self._proc.is_alive()
        state = "stopped" if not self._running else ("running" if alive and self.connected() else "degraded")
        detail = "" if state != "degraded" else ("receiver process died" if not alive else "broker unreachable")
        return Health(self.name, state, detail or self.last_error, {
            "broker": Broker.parse(self.url).host, "spool_pending_bytes": self._spool.pending_bytes(),
            **self.counters, "rejected_by_reason": dict(self.rejections)})

    # -- draining ---------------------------------------------------------------------------------------
    def _drain_loop(self) -> None:
        last = committed_at = 0.0
        done: int | None = None  # offset stored but not yet committed in the spool
        while True:
            wait = DRAIN_ROUND_S - (time.monotonic() - last)
            if wait > 0:  # a round costs about the same for ten messages as for a thousand
                time.sleep(wait)
            self._spooled.clear()  # cleared before the read: a group spooled after it sets it again
            records, offset = self._spool.read(max_records=20_000)
            if not records:
                if done is not None:
                    self._spool.commit(done)
                    done = None
                if not self._running:
                    return
                self._spooled.wait(0.02)  # nudged by the receiver after each group
                continue
            last = time.monotonic()
            try:
                self._handle(records)
            except Exception as e:  # the records stay in the spool and are tried again
                self.last_error = f"{type(e).__name__}: {e}"
                log.exception("MQTT batch failed; retrying from the spool")
                self._spool.rewind()
                done = None
                time.sleep(1.0)
                continue
            done = offset
            if last - committed_at >= COMMIT_EVERY_S:
                self._spool.commit(done)
                done, committed_at = None, last

    def _handle(self, records: list[bytes]) -> None:
        index: SensorIndex = self.index()
        parts: list[tuple[Columns, int, str]] = []  # columns, device id (-1 unknown), topic device code
        plain: list[tuple[bytes, int, str, str]] = []  # unsigned telemetry: body, device id, device, topic
        statuses: list[tuple[str, bool]] = []
        signed: list[tuple[int, int]] = []  # (credential, sequence) of signed batches in this group
        topics: dict[bytes, tuple[str, str, str, int] | None] = {}  # topic -> (kind, device, text, device id)
        for rec in records:
            (n,) = _TOPIC_LEN.unpack_from(rec)
            raw_topic, payload = rec[2:2 + n], rec[2 + n:]
            where = topics.get(raw_topic, False)
            if where is False:
                where = topics[raw_topic] = _route(raw_topic, index)
            if where is None:
                self.rejections["topic outside hz/v1/{enterprise}/{device}/..."] += 1
                continue
            kind, device, topic, dev_id = where
            self.counters["messages"] += 1
            if kind == "status":
                text = payload.decode(errors="replace").strip().strip('"').lower()
                if text.startswith("{"):
                    text = "offline" if '"offline"' in text else "online"
                statuses.append((device, text != "offline"))
                continue
            if payload[:12].lstrip().startswith(b'{"signed"'):
                try:
                    parts.append((columns(self._unwrap(payload, dev_id, signed), self.max_readings), dev_id, device))
                except (PayloadError, ServiceError) as e:
                    self._refuse(topic, e)
            elif self.require_signed:
                self._refuse(topic, PayloadError(401, "unsigned batch: this installation requires signed device "
                                                      "batches"))
            else:
                plain.append((payload, dev_id, device, topic))
        for payload, dev_id, device, topic in plain:
            try:
                parts.append((columns(payload, self.max_readings), dev_id, device))
            except PayloadError as e:
                self._refuse(topic, e)
        if parts:
            self._ingest(parts, index)
        if self.signatures is not None:
            for cred, seq in signed:
                self.signatures.accepted(cred, seq)
        if statuses and self.on_status is not None:
            now = time.time_ns() // 1000
            for device, online in statuses:
                self.on_status(device, online, now)

    def _refuse(self, topic: str, e: PayloadError | ServiceError) -> None:
        self.rejections[e.message.split(":")[0]] += 1
        self.last_error = f"{topic}: {e.message}"

    def _unwrap(self, payload: bytes, device_id: int, signed: list[tuple[int, int]]) -> bytes:
        """A signed batch from an edge gateway: check it came from a credential of the topic's device,
        unaltered and not replayed (see auth/signing.py); return the telemetry body inside."""
        try:
            env = _envelope.decode(payload).signed
            body = base64.b64decode(env.body, validate=True)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as e:
            raise PayloadError(422, f"malformed signed batch: {e}") from None
        key = self.signatures.device_key(env.credential, device_id) if self.signatures is not None else None
        if key is None:
            raise PayloadError(401, f"signed batch: credential {env.credential} is not a live credential of the "
                                    "topic's device")
        if any(c == env.credential and q >= env.sequence for c, q in signed):
            raise PayloadError(409, f"replayed batch: sequence {env.sequence} came twice")
        self.signatures.verify(key, env.credential, env.sequence, env.signature, body)
        signed.append((env.credential, env.sequence))
        return body

    def _ingest(self, parts: list[tuple[Columns, int, str]], index: SensorIndex) -> None:
        tags: list[str] = []
        ts: list = []
        values: list = []
        counts = np.empty(len(parts), np.int64)
        for i, (c, _, _) in enumerate(parts):
            tags += c.tags
            ts += c.ts
            values += c.values
            counts[i] = len(c.tags)
        quality = None
        if any(c.quality is not None for c, _, _ in parts):
            quality = [q for c, _, _ in parts for q in (c.quality or ["good"] * len(c.tags))]
        owner = np.repeat(np.fromiter((d for _, d, _ in parts), np.int32, len(parts)), counts)
        try:
            raw = arrays(Columns(tags, ts, values, quality, "$.ts[{i}]"), index)
        except PayloadError:
            # one message carries a bad timestamp: build them one by one and leave it out
            good = []
            for c, dev_id, _ in parts:
                try:
                    good.append((arrays(c, index), dev_id))
                except PayloadError as e:
                    self.rejections[e.message.split(":")[0]] += 1
            if not good:
                return
            raw = RawBatch.concat([r for r, _ in good])
            owner = np.repeat(np.asarray([d for _, d in good], np.int32), [len(r) for r, _ in good])
        dev = owner
        known = raw.sensor >= 0
        sid = np.where(known, raw.sensor, 0)
        # a topic may carry only its own device's sensors (the broker's ACL guards the topic)
        raw.denied = known & (index.device_id[sid] != dev)
        result = self.sink(raw).result()
        self.counters["readings_accepted"] += result.accepted
        self.counters["readings_rejected"] += len(result.rejected)
        for r in result.rejected:
            self.rejections[reason_kind(r.reason)] += 1
