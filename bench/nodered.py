"""Hazwatch beside Node-RED on the same MQTT stream, in the same run, on the same broker.

Node-RED is what a small plant would wire up instead: an `mqtt in` node, a function node with a
four-level limit check and deadband, an `mqtt out` node for the alert. It is installed from npm
into `.hazwatch/bench/node-red` at benchmark time (version pinned below, nothing committed) and
started headless on loopback. Hazwatch is `hazwatch serve` with its MQTT adapter (spool, fsync,
acknowledge; decode, validate, store in DuckDB, evaluate) and alerts on its WebSocket
(`/api/v1/stream?values=false`), which is where an operator sees them.

The stream: a publisher process paces QoS 1 messages of one reading each (the row form,
`{"readings":[{"sensor","ts","value"}]}`, `ts` the send time) over 1,000 sensors on 100 devices,
through a Mosquitto started for the run with its default limits (20 messages in flight and 1,000
queued per subscriber: what a slow subscriber loses is lost at the broker). Every 50th sensor is
a probe that walks through H, HH, L and LL and back, twice inside a deadband on the way, so the
alerts a correct consumer raises are known exactly from the number of readings sent. Each offered
rate runs for a fixed time against each consumer in turn, with the same values.

Per consumer and rate: readings processed per second, readings lost (sent and acknowledged by the
broker but never processed), alert latency (alert seen by the bench minus the reading's send
time) and whether the raised alerts equal the expected ones. "Keeps up" means nothing lost,
every expected alert raised, and p99 alert latency at most 50 ms.

The batched comparison sends the same readings 1,000 to a message (the columnar form) to both.

    python bench/nodered.py [--rates 10000,20000,...] [--seconds 10] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import orjson
import paho.mqtt.client as mqtt
from benchdocs import machine, scratch, write_section
from ingest import free_port
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
NODE_RED_VERSION = "4.1.8"
NODE_RED_DIR = ROOT / ".hazwatch" / "bench" / "node-red"
TOKEN = "bench-token"
DEVICES, PER_DEVICE = 100, 10
SENSORS = DEVICES * PER_DEVICE
PROBE_EVERY = 50  # every 50th sensor walks through the limits
LIMITS = {"LL": 10.0, "L": 20.0, "H": 80.0, "HH": 90.0}
DEADBAND = 0.5
P99_GOAL_MS = 50.0
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


def start_broker(workdir: Path) -> tuple[subprocess.Popen, int]:
    """Mosquitto with its default per-client limits (max_inflight_messages 20, max_queued_messages
    1000): the broker a plant runs, and the place where a slow subscriber loses messages."""
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n")
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


# -- consumers -------------------------------------------------------------------------------------------
class Consumer:
    name = ""

    def processed(self) -> int:
        raise NotImplementedError

    def alerts(self) -> list[tuple[str, str, float]]:
        """(sensor, condition, latency in ms) of each raise seen so far; drained."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


FUNCTION = """
const p = msg.payload;
const st = context.get('st');
if (msg.topic === 'hz/bench/tick') {
    return [null, {topic: 'hz/bench/nodered/count', payload: String(st.n)}];
}
const rows = p.readings || p.sensor.map((s, i) => ({sensor: s, ts: p.ts[i], value: p.value[i]}));
const out = [];
for (const r of rows) {
    st.n++;
    let a = st.active[r.sensor];
    if (a === undefined) { a = st.active[r.sensor] = [false, false, false, false]; }
    for (let i = 0; i < 4; i++) {
        const lim = LIMITS[i], up = i >= 2;
        if (!a[i] && (up ? r.value >= lim : r.value <= lim)) {
            a[i] = true;
            out.push({topic: 'hz/bench/alert/' + r.sensor, payload: JSON.stringify(
                {sensor: r.sensor, condition: NAMES[i], event: 'raised', ts: r.ts, value: r.value})});
        } else if (a[i] && (up ? r.value < lim - DB : r.value > lim + DB)) {
            a[i] = false;
            out.push({topic: 'hz/bench/alert/' + r.sensor, payload: JSON.stringify(
                {sensor: r.sensor, condition: NAMES[i], event: 'cleared', ts: r.ts, value: r.value})});
        }
    }
}
return [out.length ? out : null, null];
"""


def node_red_flow(broker_port: int) -> list[dict]:
    consts = (f"const LIMITS = {json.dumps([LIMITS[c] for c in ('LL', 'L', 'H', 'HH')])}, "
              f"NAMES = ['LL', 'L', 'H', 'HH'], DB = {DEADBAND};\n")
    return [
        {"id": "tab", "type": "tab", "label": "hazwatch-bench"},
        {"id": "broker", "type": "mqtt-broker", "name": "bench", "broker": "127.0.0.1", "port": str(broker_port),
         "clientid": "node-red-bench", "protocolVersion": "4", "keepalive": "60", "cleansession": True,
         "autoConnect": True},
        {"id": "in", "type": "mqtt in", "z": "tab", "topic": "hz/v1/+/+/telemetry", "qos": "1",
         "datatype": "json", "broker": "broker", "nl": False, "rap": False, "inputs": 0, "wires": [["check"]]},
        {"id": "tick", "type": "inject", "z": "tab", "topic": "hz/bench/tick", "payload": "", "payloadType": "str",
         "repeat": "0.2", "once": True, "onceDelay": "0.1", "wires": [["check"]]},
        {"id": "check", "type": "function", "z": "tab", "name": "four-level limits with deadband",
         "func": consts + FUNCTION, "outputs": 2, "initialize": "context.set('st', {n: 0, active: {}});",
         "wires": [["out"], ["out"]]},
        {"id": "out", "type": "mqtt out", "z": "tab", "topic": "", "qos": "0", "retain": "false", "broker": "broker",
         "wires": []},
    ]


def install_node_red() -> Path:
    exe = NODE_RED_DIR / "node_modules" / "node-red" / "red.js"
    pkg = NODE_RED_DIR / "node_modules" / "node-red" / "package.json"
    if not (pkg.exists() and json.loads(pkg.read_text())["version"] == NODE_RED_VERSION):
        NODE_RED_DIR.mkdir(parents=True, exist_ok=True)
        print(f"installing node-red {NODE_RED_VERSION} into {NODE_RED_DIR.relative_to(ROOT)} ...", flush=True)
        subprocess.run(["npm", "install", "--prefix", str(NODE_RED_DIR), "--no-audit", "--no-fund",
                        "--loglevel=error", f"node-red@{NODE_RED_VERSION}"], check=True)
    return exe


class Watcher:
    """An MQTT subscriber in the bench process: Node-RED's alerts and its processed count."""

    def __init__(self, port: int) -> None:
        self.count, self.raises = 0, []
        self.lock = threading.Lock()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-watch-{os.getpid()}")
        self.c.on_connect = lambda cl, *_: cl.subscribe([("hz/bench/#", 0)])
        self.c.on_message = self.on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def on_message(self, _c, _u, m) -> None:
        now = time.time()
        if m.topic == "hz/bench/nodered/count":
            self.count = int(m.payload)
            return
        a = orjson.loads(m.payload)
        if a["event"] == "raised":
            with self.lock:
                self.raises.append((a["sensor"], a["condition"], (now - a["ts"]) * 1000))

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


class NodeRed(Consumer):
    name = "Node-RED"

    def __init__(self, broker_port: int, workdir: Path) -> None:
        exe = install_node_red()
        user = workdir / "node-red-user"
        user.mkdir()
        (user / "flows.json").write_text(json.dumps(node_red_flow(broker_port)))
        port = free_port()
        (user / "settings.js").write_text(
            f"module.exports = {{uiHost: '127.0.0.1', uiPort: {port}, flowFile: 'flows.json',\n"
            "  httpAdminRoot: '/admin', editorTheme: {tours: false}, logging: {console: {level: 'warn'}},\n"
            "  functionGlobalContext: {}, telemetry: {enabled: false}};\n")
        self.proc = subprocess.Popen(["node", str(exe), "--userDir", str(user), "--settings",
                                      str(user / "settings.js")], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.watch = Watcher(broker_port)
        deadline = time.time() + 120
        while self.watch.count == 0 and time.time() < deadline:  # counts arrive once its flow runs
            if self.proc.poll() is not None:
                raise SystemExit("node-red exited at start")
            time.sleep(0.1)
        self.base = self.watch.count
        time.sleep(1.0)  # its subscription follows the connection

    def processed(self) -> int:
        return self.watch.count

    def alerts(self) -> list[tuple[str, str, float]]:
        with self.watch.lock:
            out, self.watch.raises = self.watch.raises, []
        return out

    def close(self) -> None:
        self.watch.close()
        self.proc.terminate()
        self.proc.wait(10)


def catalog_yaml(path: Path) -> None:
    import yaml

    doc = {"orgs": [{"code": "R", "name": "r", "kind": "regulator"},
                    {"code": "P", "name": "p", "kind": "park", "parent": "R"},
                    {"code": "E", "name": "e", "kind": "enterprise", "parent": "P"}],
           "devices": [{"code": f"D{d:03d}", "name": f"d{d}", "org": "E"} for d in range(DEVICES)],
           "sensors": [{"tag": tag(s), "name": f"s{s}", "kind": "pressure", "unit": "MPa",
                        "device": f"D{s // PER_DEVICE:03d}", "range_low": 0, "range_high": 100,
                        "ll": LIMITS["LL"], "l": LIMITS["L"], "h": LIMITS["H"], "hh": LIMITS["HH"],
                        "deadband": DEADBAND} for s in range(SENSORS)]}
    path.write_text(yaml.safe_dump(doc))


class Hazwatch(Consumer):
    name = "Hazwatch"

    def __init__(self, broker_port: int, workdir: Path) -> None:
        data = workdir / "hazwatch"
        data.mkdir()
        catalog_yaml(data / "catalog.yaml")
        self.port = free_port()
        env = dict(os.environ, HAZWATCH_ADMIN_TOKEN=TOKEN, HAZWATCH_LOG_LEVEL="WARNING",
                   HAZWATCH_MQTT_URL=f"mqtt://127.0.0.1:{broker_port}", HAZWATCH_MQTT_CLIENT_ID="hazwatch-bench")
        hz = [sys.executable, "-m", "hazwatch.cli.main"]
        subprocess.run([*hz, "catalog", "import", str(data / "catalog.yaml"), "--data-dir", str(data)],
                       env=env, check=True, capture_output=True)
        self.proc = subprocess.Popen([*hz, "serve", "--data-dir", str(data), "--port", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if self._get("/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("hazwatch did not become ready")
        self.raises: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()
        self.ws_ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._listen(),), daemon=True)
        self.thread.start()
        if not self.ws_ready.wait(30):
            raise SystemExit("the alarm stream did not open")
        time.sleep(1.0)

    def _get(self, path: str) -> tuple[int, bytes]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        c.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        r = c.getresponse()
        return r.status, r.read()

    async def _listen(self) -> None:
        import websockets

        url = f"ws://127.0.0.1:{self.port}/api/v1/stream?values=false&token={TOKEN}"
        async with websockets.connect(url, max_size=None) as ws:
            self.ws_ready.set()
            with contextlib.suppress(websockets.ConnectionClosed):  # the server stops at the end
                await self._read(ws)

    async def _read(self, ws) -> None:
        async for text in ws:
            now = time.time()
            m = orjson.loads(text)
            if m.get("type") == "alarm" and m["event"] == "raised":
                a = m["alarm"]
                at = datetime.fromisoformat(a["raised_at"].replace("Z", "+00:00")).timestamp()
                with self.lock:
                    self.raises.append((a["sensor"], a["condition"], (now - at) * 1000))

    def processed(self) -> int:
        return self.readings("accepted")

    def readings(self, result: str) -> int:
        _, body = self._get("/metrics")
        for line in body.decode().splitlines():
            if line.startswith(f'hazwatch_readings_total{{result="{result}"}}'):
                return int(float(line.split()[-1]))
        return 0

    def alerts(self) -> list[tuple[str, str, float]]:
        with self.lock:
            out, self.raises = self.raises, []
        return out

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


# -- one run -------------------------------------------------------------------------------------------
def run(consumer: Consumer, broker_port: int, rate: float, seconds: float, batch: int = 1) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    before = consumer.processed()
    consumer.alerts()
    start_at = time.time() + 0.5
    pub = ctx.Process(target=publisher, args=(broker_port, rate, seconds, batch, start_at, q))
    pub.start()
    sent = q.get(timeout=seconds + 120)
    pub.join()
    # drained: the count stops moving for a second (or 60 s pass)
    last, still, t_end = consumer.processed(), time.time(), time.time()
    while time.time() - still < 1.0 and time.time() - t_end < 60:
        time.sleep(0.1)
        now = consumer.processed()
        if now != last:
            last, still = now, time.time()
    processed = last - before
    drained_s = still - start_at
    raised = consumer.alerts()
    lat = np.array([x[2] for x in raised]) if raised else np.array([np.nan])
    got: dict[tuple[str, str], int] = {}
    for s, c, _ in raised:
        got[(s, c)] = got.get((s, c), 0) + 1
    want = expected_raises(sent["sent"])
    return {"consumer": consumer.name, "rate": rate, "batch": batch, "sent": sent["sent"],
            "acked": sent["acked_messages"] * batch, "processed": processed,
            "lost": sent["sent"] - processed, "per_s": processed / max(drained_s, sent["seconds"]),
            "p50": float(np.nanpercentile(lat, 50)), "p99": float(np.nanpercentile(lat, 99)),
            "alerts": sum(got.values()), "alerts_expected": sum(want.values()), "alerts_match": got == want}


def keeps_up(r: dict) -> bool:
    return r["lost"] == 0 and r["alerts_match"] and r["p99"] <= P99_GOAL_MS


def report(r: dict) -> str:
    return (f"{r['consumer']:<9} offered {r['rate']:>9,.0f}/s  processed {r['per_s']:>9,.0f}/s  lost {r['lost']:>8,}  "
            f"alerts {r['alerts']}/{r['alerts_expected']}{'' if r['alerts_match'] else ' (differ)'}  "
            f"p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms  {'keeps up' if keeps_up(r) else ''}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="10000,20000,30000,40000,50000,60000,80000")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--batched-rate", type=float, default=1_500_000,
                    help="readings/s offered in batches: above what either takes, so each shows its top")
    ap.add_argument("--batch", type=int, default=1000, help="readings per message in the batched run")
    ap.add_argument("--only", choices=["Hazwatch", "Node-RED"], help="run one consumer (for tuning)")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    rates = [float(x) for x in args.rates.split(",")]
    results: list[dict] = []
    with tempfile.TemporaryDirectory(dir=scratch()) as tmp:
        broker, port = start_broker(Path(tmp))
        try:
            for kind in (NodeRed, Hazwatch):
                if args.only and kind.name != args.only:
                    continue
                consumer = kind(port, Path(tmp))
                try:
                    for rate in rates:
                        r = run(consumer, port, rate, args.seconds)
                        print(report(r), flush=True)
                        results.append(r)
                    r = run(consumer, port, args.batched_rate, args.seconds, args.batch)
                    print("batched:", report(r), flush=True)
                    results.append(r)
                finally:
                    consumer.close()
        finally:
            broker.terminate()
            broker.wait(10)
    summary = summarize(results)
    for line in summary:
        print(line)
    if args.write_docs:
        write_docs(results, summary, args, "python bench/nodered.py " + " ".join(sys.argv[1:]))


def kept_up_to(runs: list[dict]) -> float:
    """The highest offered rate below which every rate kept up: a rate that fails counts against
    all above it, however well those did."""
    best = 0.0
    for r in sorted(runs, key=lambda r: r["rate"]):
        if not keeps_up(r):
            break
        best = r["rate"]
    return best


def summarize(results: list[dict]) -> list[str]:
    out = []
    by = {name: [r for r in results if r["consumer"] == name] for name in ("Hazwatch", "Node-RED")}
    keep = {n: kept_up_to([r for r in rs if r["batch"] == 1]) for n, rs in by.items()}
    top = {n: max((r["per_s"] for r in rs if r["batch"] == 1), default=0.0) for n, rs in by.items()}
    batched = {n: max((r["per_s"] for r in rs if r["batch"] > 1), default=0.0) for n, rs in by.items()}
    for n in by:
        out.append(f"{n}: keeps up to {keep[n]:,.0f} messages/s, tops out at {top[n]:,.0f}/s, "
                   f"batched {batched[n]:,.0f} readings/s")
    if keep["Node-RED"] and keep["Hazwatch"]:
        out.append(f"keep-up ratio Hazwatch/Node-RED: {keep['Hazwatch'] / keep['Node-RED']:.2f} (goal 2)")
    if batched["Hazwatch"] and top["Node-RED"]:
        out.append(f"batched ratio, Hazwatch batched / Node-RED's top one reading per message: "
                   f"{batched['Hazwatch'] / max(top['Node-RED'], 1):.1f} (goal 20)")
    if batched["Node-RED"] and batched["Hazwatch"]:
        out.append(f"both batched, Hazwatch / Node-RED: {batched['Hazwatch'] / batched['Node-RED']:.2f} (Node-RED "
                   f"checks limits in memory; Hazwatch also spools, stores and journals every reading durably)")
    return out


def write_docs(results: list[dict], summary: list[str], args, cmd: str) -> None:
    rows = "\n".join(
        f"| {r['consumer']} | {r['batch']:,} | {r['rate']:,.0f} | {r['per_s']:,.0f} | "
        f"{r['lost']:,} | {r['alerts']}/{r['alerts_expected']}{'' if r['alerts_match'] else ' ✗'} | "
        f"{r['p50']:.1f} | {r['p99']:.1f} | {'yes' if keeps_up(r) else 'no'} |" for r in results)
    write_section("nodered", (
        f"## Hazwatch and Node-RED on the same MQTT stream\n\nCommand: `{cmd}`  \n{machine()} "
        f"Node-RED {NODE_RED_VERSION} (npm, into `.hazwatch/bench/node-red`) with an `mqtt in` → four-level limit "
        f"function with deadband → `mqtt out` flow; Hazwatch `serve` with its MQTT adapter, DuckDB, alerts on its "
        f"WebSocket. One Mosquitto with default per-client limits, a paced QoS 1 publisher, {SENSORS:,} sensors, "
        f"{args.seconds:g} s per rate, each consumer in turn on the same values. Latency: alert seen minus the "
        f"reading's send time. Keeps up: nothing lost, the expected alerts exactly, p99 ≤ {P99_GOAL_MS:g} ms. "
        f"All processes share the machine's cores.\n\n"
        f"| consumer | readings/message | offered/s | processed/s | lost | alerts raised/expected | p50 ms | p99 ms "
        f"| keeps up |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n{rows}\n\n"
        + "\n".join(f"- {s}" for s in summary)))


if __name__ == "__main__":
    main()
