"""MQTT ingest throughput beside a bare paho subscriber, on the same broker in the same run.

A Mosquitto started for the run (TCP_NODELAY on, no queue limit, default in-flight window of 20)
holds N QoS 1 messages of 10 readings each, queued for a persistent session. Then:

- bare: a paho subscriber drains them, acknowledging each message as paho does by default, and
  nothing else (the ceiling for a Python MQTT consumer);
- hazwatch: the MQTT adapter drains them the way the server does (receiver process: spool, fsync,
  acknowledge; server: decode, validate, store in DuckDB, evaluate limits).

Both figures are messages drained per second from the first message to the last; for Hazwatch the
clock stops when the last reading is stored, not when it was received. The two take turns for
several rounds on the same broker and the medians are reported, since one run on a small machine
swings by a tenth either way.

    python bench/mqtt_ingest.py [--messages 100000] [--rounds 3] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from benchdocs import machine, write_section
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DEVICES, PER_DEVICE = 100, 10  # 1,000 sensors, one message = one device's 10 sensors at one instant


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "set_tcp_nodelay true\nmax_queued_messages 0\nmax_queued_bytes 0\n")
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def client(client_id: str, clean: bool = False) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean, protocol=mqtt.MQTTv311)
    return c


def open_session(port: int, client_id: str) -> None:
    """Create the persistent session so the broker queues what is published next."""
    done = threading.Event()
    c = client(client_id)
    c.on_connect = lambda cl, *_: cl.subscribe([("hz/v1/+/+/telemetry", 1)])
    c.on_subscribe = lambda *_: done.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(10)
    c.disconnect()
    c.loop_stop()


def preload(port: int, messages: int, t0: float) -> None:
    c = client(f"bench-pub-{os.getpid()}", clean=True)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = []
    for k in range(messages):
        d = k % DEVICES
        ts = round(t0 + (k // DEVICES) * 0.001, 3)
        tags = ",".join(f'"S{d:03d}-{j}"' for j in range(PER_DEVICE))
        stamps, values = ",".join([str(ts)] * PER_DEVICE), ",".join(["50.0"] * PER_DEVICE)
        body = f'{{"sensor":[{tags}],"ts":[{stamps}],"value":[{values}]}}'
        infos.append(c.publish(f"hz/v1/E/D{d:03d}/telemetry", body, qos=1))
        if len(infos) == 20_000:  # message ids are 16 bits: let a run complete before they wrap
            for i in infos:
                i.wait_for_publish(120)
            infos = []
    for i in infos:
        i.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def bare_rate(port: int, messages: int) -> float:
    open_session(port, "bench-bare")
    preload(port, messages, time.time() - 86400)
    got, first, last = [0], [0.0], [0.0]
    done = threading.Event()

    def on_message(_c, _u, _m) -> None:
        now = time.perf_counter()
        if got[0] == 0:
            first[0] = now
        got[0] += 1
        last[0] = now
        if got[0] >= messages:
            done.set()

    c = client("bench-bare")
    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(600)
    c.disconnect()
    c.loop_stop()
    return got[0] / (last[0] - first[0])


def catalog():
    from hazwatch.catalog.schema import CatalogDoc, DeviceDoc, OrgDoc, SensorDoc

    return CatalogDoc(
        orgs=[OrgDoc(code="R", name="r", kind="region"), OrgDoc(code="P", name="p", kind="park", parent="R"),
              OrgDoc(code="E", name="e", kind="enterprise", parent="P")],
        devices=[DeviceDoc(code=f"D{d:03d}", name=f"d{d}", org="E") for d in range(DEVICES)],
        sensors=[SensorDoc(tag=f"S{d:03d}-{j}", name="s", kind="pressure", unit="MPa", device=f"D{d:03d}",
                           range_low=0, range_high=100, h=80, hh=90)
                 for d in range(DEVICES) for j in range(PER_DEVICE)])


def hazwatch_rate(port: int, messages: int, workdir: Path, client_id: str = "bench-hz") -> float:
    from hazwatch.app import build, tune_gc
    from hazwatch.settings import Settings

    settings = Settings(data_dir=workdir / "data", mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_client_id=client_id,
                        future_tolerance_s=1e9)
    services = build(settings)
    services.catalog.apply(catalog(), "bench")
    services.pipeline.reload_catalog()
    adapter = next(a for a in services.adapters if a.name == "mqtt")
    open_session(port, client_id)
    preload(port, messages, time.time() - 2 * 86400)
    total = messages * PER_DEVICE

    spool = settings.data_dir / "mqtt-spool"
    tune_gc()  # as `hazwatch serve` does

    async def run() -> float:
        services.pipeline.start()
        await adapter.start()
        while not any(spool.glob("seg-*.log")):  # the clock starts with the first message, as for bare
            await asyncio.sleep(0.001)
        t0 = time.perf_counter()
        while adapter.counters["readings_accepted"] < total:  # in memory: polling the store would cost CPU
            await asyncio.sleep(0.002)
        t1 = time.perf_counter()
        assert services.store.count() == total
        await adapter.stop()
        services.pipeline.stop()
        services.store.close()
        return total / (t1 - t0)

    return asyncio.run(run())


def write_docs(bare: float, hz: float, messages: int, rounds: int, cmd: str) -> None:
    write_section("mqtt", (
        f"## MQTT ingest\n\nCommand: `{cmd}`  \n{machine()} {messages:,} QoS 1 messages of {PER_DEVICE} readings "
        f"each, queued in a Mosquitto started for the run (`set_tcp_nodelay true`, in-flight window 20, no queue "
        f"limit), drained by each consumer in turn, {rounds} rounds, medians; rate from first message to last (for "
        f"Hazwatch: to the last reading stored in DuckDB with limits evaluated).\n\n"
        f"| consumer | messages/s | readings/s |\n|---|---:|---:|\n"
        f"| bare paho subscriber (acknowledge only) | {bare:,.0f} | {bare * PER_DEVICE:,.0f} |\n"
        f"| Hazwatch MQTT adapter (spool, fsync, acknowledge; decode, validate, store, evaluate) | "
        f"{hz / PER_DEVICE:,.0f} | {hz:,.0f} |\n\n"
        f"Hazwatch reaches {hz / PER_DEVICE / bare:.0%} of the bare rate."))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    bares, hzs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_broker(Path(tmp))
        try:
            for r in range(args.rounds):
                bare = bare_rate(port, args.messages)
                hz = hazwatch_rate(port, args.messages, Path(tmp) / f"round-{r}", f"bench-hz-{r}")
                bares.append(bare)
                hzs.append(hz)
                print(f"round {r + 1}: bare paho {bare:>8,.0f} messages/s   hazwatch {hz / PER_DEVICE:>8,.0f} "
                      f"messages/s ({hz / PER_DEVICE / bare:.0%})", flush=True)
        finally:
            proc.terminate()
            proc.wait(10)
    bare, hz = statistics.median(bares), statistics.median(hzs)
    print(f"bare paho subscriber   {bare:>10,.0f} messages/s   ({bare * PER_DEVICE:,.0f} readings/s)")
    print(f"hazwatch MQTT adapter  {hz / PER_DEVICE:>10,.0f} messages/s   ({hz:,.0f} readings/s stored; "
          f"{hz / PER_DEVICE / bare:.0%} of bare, medians of {args.rounds} rounds)")
    if args.write_docs:
        write_docs(bare, hz, args.messages, args.rounds, "python bench/mqtt_ingest.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
