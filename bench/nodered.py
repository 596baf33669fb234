"""Hazwatch beside Node-RED on the same MQTT stream, in the same run, on the same broker.

Node-RED is what a small plant would wire up instead: an `mqtt in` node, a function node with a
four-level limit check and deadband, an `mqtt out` node for the alert. It is installed from npm
into `.hazwatch/bench/node-red` at benchmark time (version pinned below, nothing committed) and
started headless on loopback. Hazwatch is `hazwatch serve` with its MQTT adapter (spool, fsync,
acknowledge; decode, validate, store in DuckDB, evaluate) and alerts on its WebSocket
(`/api/v1/stream?values=false`), which is where an operator sees them.

The stream: a publisher process paces QoS 1 messages of one reading each (the row form,
`{"readings":[{"sensor","ts","value"}]}`, `ts` the send time) over 1,000 sensors on 100 devices,
through a Mosquitto started for the run with its default queue (1,000 messages per subscriber).
Both consumers connect with MQTT 5 and the same receive maximum (65,535: MQTT.js sends none, which
MQTT 5 reads as 65,535; Hazwatch asks for it), so the broker gives both the same in-flight window
and the same queue; what either cannot take in time is dropped at the broker, counted from the
broker's own `$SYS/broker/publish/messages/dropped` and reported apart from what the consumer
lost after taking it. Every 50th sensor is a probe that walks through H, HH, L and LL and back,
twice inside a deadband on the way, so the alerts a correct consumer raises are known exactly from
the number of readings sent. Each offered rate runs for a fixed time against each consumer in
turn, with the same values.

Per consumer and rate: readings processed per second, readings dropped at the broker, readings
lost after it, alert latency (alert seen by the bench minus the reading's send time) and whether
the raised alerts equal the expected ones. "Keeps up" means nothing lost anywhere, every expected
alert raised, and p99 alert latency at most 50 ms. The goal: Hazwatch keeps up with at least twice
the rate Node-RED keeps up with, one reading per message for both.

The batched comparison sends the same readings 1,000 to a message (the columnar form) to both, and
compares batched with batched.

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
from mqttstream import (
    DEADBAND,
    DEVICES,
    LIMITS,
    PER_DEVICE,
    SENSORS,
    DropCounter,
    expected_raises,
    publisher,
    start_broker,
    tag,
)
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
NODE_RED_VERSION = "4.1.8"
NODE_RED_DIR = ROOT / ".hazwatch" / "bench" / "node-red"
TOKEN = "bench-token"
P99_GOAL_MS = 50.0


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
         "clientid": "node-red-bench", "protocolVersion": "5", "keepalive": "60", "cleansession": True,
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
def run(consumer: Consumer, broker_port: int, rate: float, seconds: float, drops: DropCounter,
        batch: int = 1) -> dict:
    ctx = mp.get_context("spawn")
    dropped_before = drops.now()
    q = ctx.Queue()
    before = consumer.processed()
    consumer.alerts()
    start_at = time.time() + 0.5
    pub = ctx.Process(target=publisher, args=(broker_port, rate, seconds, batch, start_at, q))
    pub.start()
    sent = q.get(timeout=seconds + 120)
    pub.join()
    # drained: everything sent is processed, or the count stops moving for 3 s (what the broker dropped
    # never comes), or 300 s pass: a consumer far behind works off its backlog before the next rate
    last, still, t_end = consumer.processed(), time.time(), time.time()
    while last - before < sent["sent"] and time.time() - still < 3.0 and time.time() - t_end < 300:
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
    dropped = (drops.now() - dropped_before) * batch
    return {"consumer": consumer.name, "rate": rate, "batch": batch, "sent": sent["sent"],
            "acked": sent["acked_messages"] * batch, "processed": processed, "dropped": dropped,
            "lost": sent["sent"] - processed, "per_s": processed / max(drained_s, sent["seconds"]),
            "p50": float(np.nanpercentile(lat, 50)), "p99": float(np.nanpercentile(lat, 99)),
            "alerts": sum(got.values()), "alerts_expected": sum(want.values()), "alerts_match": got == want}


def keeps_up(r: dict) -> bool:
    return r["lost"] == 0 and r["alerts_match"] and r["p99"] <= P99_GOAL_MS


def report(r: dict) -> str:
    return (f"{r['consumer']:<9} offered {r['rate']:>9,.0f}/s  processed {r['per_s']:>9,.0f}/s  "
            f"dropped at broker {r['dropped']:>8,}  lost after {r['lost'] - r['dropped']:>8,}  "
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
        drops = DropCounter(port)
        try:
            for kind in (NodeRed, Hazwatch):
                if args.only and kind.name != args.only:
                    continue
                consumer = kind(port, Path(tmp))
                try:
                    for rate in rates:
                        r = run(consumer, port, rate, args.seconds, drops)
                        print(report(r), flush=True)
                        results.append(r)
                    r = run(consumer, port, args.batched_rate, args.seconds, drops, args.batch)
                    print("batched:", report(r), flush=True)
                    results.append(r)
                finally:
                    consumer.close()
        finally:
            drops.close()
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
        ratio = keep["Hazwatch"] / keep["Node-RED"]
        out.append(f"keep-up ratio Hazwatch/Node-RED, one reading per message for both: {ratio:.2f} (goal 2: "
                   f"{'met' if ratio >= 2 else 'missed'})")
    if batched["Node-RED"] and batched["Hazwatch"]:
        out.append(f"both batched, Hazwatch / Node-RED: {batched['Hazwatch'] / batched['Node-RED']:.2f} (Node-RED "
                   f"checks limits in memory; Hazwatch also spools, stores and journals every reading durably)")
    return out


def write_docs(results: list[dict], summary: list[str], args, cmd: str) -> None:
    rows = "\n".join(
        f"| {r['consumer']} | {r['batch']:,} | {r['rate']:,.0f} | {r['per_s']:,.0f} | "
        f"{r['dropped']:,} | {r['lost'] - r['dropped']:,} | "
        f"{r['alerts']}/{r['alerts_expected']}{'' if r['alerts_match'] else ' ✗'} | "
        f"{r['p50']:.1f} | {r['p99']:.1f} | {'yes' if keeps_up(r) else 'no'} |" for r in results)
    write_section("nodered", (
        f"## Hazwatch and Node-RED on the same MQTT stream\n\nCommand: `{cmd}`  \n{machine()} "
        f"Node-RED {NODE_RED_VERSION} (npm, into `.hazwatch/bench/node-red`) with an `mqtt in` → four-level limit "
        f"function with deadband → `mqtt out` flow; Hazwatch `serve` with its MQTT adapter, DuckDB, alerts on its "
        f"WebSocket. One Mosquitto with its default queue (1,000 per subscriber), both consumers on MQTT 5 with a "
        f"receive maximum of 65,535 (the same in-flight window), a paced QoS 1 publisher, {SENSORS:,} sensors, "
        f"{args.seconds:g} s per rate, each consumer in turn on the same values. Latency: alert seen minus the "
        f"reading's send time. Dropped at the broker: its own counter (queue full); lost after: taken from the broker "
        f"but never processed. Keeps up: nothing dropped or lost, the expected alerts exactly, p99 ≤ {P99_GOAL_MS:g} "
        f"ms. "
        f"All processes share the machine's cores.\n\n"
        f"| consumer | readings/message | offered/s | processed/s | dropped at broker | lost after | "
        f"alerts raised/expected | p50 ms | p99 ms | keeps up |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        f"{rows}\n\n"
        + "\n".join(f"- {s}" for s in summary)))


if __name__ == "__main__":
    main()
