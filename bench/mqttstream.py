"""The paced MQTT stream the Node-RED comparison sends (bench/nodered.py): 1,000 sensors on 100
devices, probe sensors that walk through their limits so the alerts a correct consumer raises are
known exactly, a publisher that writes QoS 1 packets straight to the socket, and the broker it
goes through with the broker's own count of what it dropped."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import orjson
import paho.mqtt.client as mqtt
from ingest import free_port
from paho.mqtt.enums import CallbackAPIVersion

DEVICES, PER_DEVICE = 100, 10
SENSORS = DEVICES * PER_DEVICE
PROBE_EVERY = 50  # every 50th sensor walks through the limits
LIMITS = {"LL": 10.0, "L": 20.0, "H": 80.0, "HH": 90.0}
DEADBAND = 0.5
# One probe cycle, in readings of that sensor: (first reading, value). 89.8 and 79.8 sit inside the
# deadbands of HH and H (90 - 0.5, 80 - 0.5), so those alarms must hold there; 10.3 inside LL's.
CYCLE = 100
STEPS = [(0, 50.0), (20, 85.0), (25, 95.0), (30, 89.8), (32, 85.0), (35, 79.8), (37, 50.0),
         (60, 15.0), (65, 5.0), (70, 10.3), (72, 15.0), (75, 50.0)]


def tag(s: int) -> str:
    return f"S{s // PER_DEVICE:03d}-{s % PER_DEVICE}"


def topic(s: int) -> str:
    return f"hz/v1/E/D{s // PER_DEVICE:03d}/telemetry"


def probe_value(r: int) -> float:
    pos = r % CYCLE
    return next(v for start, v in reversed(STEPS) if pos >= start)


def value(s: int, r: int) -> float:
    return probe_value(r) if s % PROBE_EVERY == 0 else 50.0 + (s % 7)


def expected_raises(total: int) -> dict[tuple[str, str], int]:
    """(sensor, condition) -> raises a correct consumer gives for `total` readings (whole sweeps
    of the sensors, each sensor's readings in order)."""
    out: dict[tuple[str, str], int] = {}
    n = total // SENSORS
    for s in range(0, SENSORS, PROBE_EVERY):
        active = dict.fromkeys(LIMITS, False)
        for r in range(n):
            v = probe_value(r)
            for c, lim in LIMITS.items():
                up = c.startswith("H")
                if not active[c] and (v >= lim if up else v <= lim):
                    active[c] = True
                    out[(tag(s), c)] = out.get((tag(s), c), 0) + 1
                elif active[c] and (v < lim - DEADBAND if up else v > lim + DEADBAND):
                    active[c] = False
    return out


# -- the broker and the publisher ---------------------------------------------------------------------------
def wait_port(port: int, what: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not start listening on port {port}")


def start_broker(workdir: Path, extra: str = "") -> tuple[subprocess.Popen, int]:
    """A Mosquitto for the run on a free port, with its default queue per subscriber
    (max_queued_messages 1000) unless `extra` says otherwise: the broker a plant runs, and the place
    where a slow subscriber loses messages. Its counters every second; no broker-side cap on
    messages in flight, so each consumer's MQTT 5 receive maximum (65,535 for Hazwatch and the
    references alike) is its window, whatever a broker version applies to v5 clients by default."""
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n"
                    "sys_interval 1\nmax_inflight_messages 0\n" + extra)
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, "mosquitto")
    return proc, port


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish_packet(topic_b: bytes, pid: int, payload: bytes) -> bytes:
    body = len(topic_b).to_bytes(2, "big") + topic_b + pid.to_bytes(2, "big") + payload
    return b"\x32" + _varint(len(body)) + body


def publisher(port: int, rate: float, seconds: float, batch: int, start_at: float, out: mp.Queue) -> None:
    """Paces QoS 1 PUBLISH packets written straight to the socket (a Python MQTT client could not
    offer 100k messages/s on its own), and counts the broker's PUBACKs: what was acknowledged is
    what a consumer must process. `batch` readings per message (1: the row form)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cid = f"bench-pub-{os.getpid()}".encode()
    connect = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
    sock.sendall(b"\x10" + _varint(len(connect)) + connect)
    assert sock.recv(4)[:1] == b"\x20", "no CONNACK"
    acked = [0]

    def read_acks() -> None:
        buf = b""
        while True:
            try:
                data = sock.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            buf += data
            time.sleep(0.005)  # let acknowledgements gather: one wake-up per few hundred, not per one
            whole = len(buf) // 4  # PUBACK is 4 bytes and the broker sends nothing else here
            acked[0] += whole
            buf = buf[whole * 4:]

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    topics = [topic(s).encode() for s in range(SENSORS)]
    tags = [tag(s) for s in range(SENSORS)]
    k = pid = 0
    unit = SENSORS if batch == 1 else batch * DEVICES  # whole sweeps: every sensor gets as many readings
    total = max(1, int(rate * seconds) // unit) * unit
    if batch > 1:  # one device's sensors over CYCLE instants per message: the values repeat per device
        assert batch == PER_DEVICE * CYCLE, "batched messages hold one probe cycle of one device"
        inst = np.repeat(np.arange(CYCLE), PER_DEVICE) * 1e-6
        fixed = [(orjson.dumps([tags[d * PER_DEVICE + j] for _ in range(CYCLE) for j in range(PER_DEVICE)]),
                  orjson.dumps([value(d * PER_DEVICE + j, r) for r in range(CYCLE) for j in range(PER_DEVICE)]))
                 for d in range(DEVICES)]
    last, stamp = 0.0, 0
    # one reading per message: everything but the packet id and the stamp is known in advance, and
    # stamps are always 6 decimals, so each packet's length is too (the publisher must not be what
    # limits the rate)
    rows = []  # per sensor: (fixed header and topic, start of the body up to the stamp, tails by cycle position)
    for s in range(SENSORS):
        vals = [value(s, r) for r in range(CYCLE)] if s % PROBE_EVERY == 0 else [value(s, 0)]
        tails = [f',"value":{v:5.1f}}}]}}'.encode() for v in vals]  # JSON allows the padding
        assert len({len(t) for t in tails}) == 1, "every value has the same width"
        prefix = f'{{"readings":[{{"sensor":"{tags[s]}","ts":'.encode()
        remaining = 2 + len(topics[s]) + 2 + len(prefix) + 17 + len(tails[0])  # stamp: 10 digits, dot, 6
        rows.append((b"\x32" + _varint(remaining) + len(topics[s]).to_bytes(2, "big") + topics[s], prefix, tails))
    while time.time() < start_at:
        time.sleep(0.001)
    t0 = time.perf_counter()
    while k < total:
        due = min(total, int((time.perf_counter() - t0) * rate) // batch * batch)
        if due <= k:
            time.sleep(0.0005)
            continue
        now = round(time.time(), 6)
        packets = []
        while k < due:
            pid = pid % 65535 + 1
            if batch == 1:  # a stamp of its own per message, even when a catch-up sends many at once
                s, r = k % SENSORS, k // SENSORS
                stamp = max(int(now * 1e6), stamp + 1)
                head, prefix, tails = rows[s]
                packets += (head, pid.to_bytes(2, "big"), prefix,
                            f"{stamp // 1_000_000}.{stamp % 1_000_000:06d}".encode(), tails[r % len(tails)])
            else:  # stamps stay unique per sensor even when a catch-up sends several messages at once
                last = max(now, round(last + CYCLE * 1e-6, 6))
                d = (k // batch) % DEVICES
                ts = orjson.dumps(last + inst, option=orjson.OPT_SERIALIZE_NUMPY)
                body = b'{"sensor":' + fixed[d][0] + b',"ts":' + ts + b',"value":' + fixed[d][1] + b"}"
                packets.append(_publish_packet(topics[d * PER_DEVICE], pid, body))
            k += batch
        sock.sendall(b"".join(packets))
    sent_s = time.perf_counter() - t0
    deadline = time.time() + 30
    while acked[0] < total // batch and time.time() < deadline:
        time.sleep(0.01)
    sock.sendall(b"\xe0\x00")
    sock.close()
    out.put({"sent": total, "acked_messages": acked[0], "seconds": sent_s})


class DropCounter:
    """The broker's count of messages it dropped (queue full), from `$SYS/broker/publish/messages/
    dropped`, which it publishes every `sys_interval` (1 s here) once it has dropped anything:
    subscribed for the whole run, so a reading is never a guess."""

    def __init__(self, port: int) -> None:
        self.value, self.lock = 0, threading.Lock()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sys-{os.getpid()}")
        self.c.on_connect = lambda cl, *_: cl.subscribe("$SYS/broker/publish/messages/dropped", 0)
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on_message(self, _c, _u, m) -> None:
        with self.lock:
            self.value = max(self.value, int(m.payload))

    def now(self) -> int:
        """The count as of now: after one more publishing interval."""
        time.sleep(1.5)
        with self.lock:
            return self.value

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()
