"""MQTT ingest throughput beside two consumers that only receive and acknowledge, on the same
broker in the same run, under the same session settings as Hazwatch's receiver.

A Mosquitto started for the run (TCP_NODELAY on, no queue limit, no broker-side cap in flight)
holds N QoS 1 messages of 10 readings each, queued for a persistent MQTT 5 session that asks for a
receive maximum of 65,535 (as many messages in flight as MQTT allows). Then, in turn:

- session: Hazwatch's own MQTT 5 session (`ingest/mqttwire.py`, the receiver's) reads every group
  the socket holds and acknowledges it in one write, and does nothing else: no spool, no fsync, no
  decode, no store; timed from its connection (the backlog may be in the socket before the first
  read returns). What Hazwatch's design costs is the difference to this.
- mosquitto_sub: the C client (`mosquitto_sub -V 5`, the same receive maximum, a persistent
  session), acknowledging as libmosquitto does, printing only each message's arrival time.
- hazwatch: the MQTT adapter drains them the way the server does (receiver process: spool, fsync,
  acknowledge; server: decode, validate, store in DuckDB, evaluate limits).

Each figure is messages drained per second from the first message to the last; for Hazwatch the
clock stops when the last reading is stored, not when it was received. The consumers take turns for
several rounds on the same broker and the medians are reported, since one run on a small machine
swings by a tenth either way. The target: Hazwatch at >= 80 % of the better reference.

    python bench/mqtt_ingest.py [--messages 100000] [--rounds 3] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mqttstream
import paho.mqtt.client as mqtt
from benchdocs import machine, write_section
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DEVICES, PER_DEVICE = 100, 10  # 1,000 sensors, one message = one device's 10 sensors at one instant


def start_broker(workdir: Path) -> tuple[subprocess.Popen, int]:
    """The stream's broker (bench/mqttstream.py) with no queue limit: the backlog is queued whole."""
    return mqttstream.start_broker(workdir, "max_queued_messages 0\nmax_queued_bytes 0\n")


def client(client_id: str, clean: bool = False) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean, protocol=mqtt.MQTTv311)
    return c


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


def _session(port: int, client_id: str):
    from hazwatch.ingest.mqtt import RECEIVE_MAXIMUM, TELEMETRY
    from hazwatch.ingest.mqttwire import Session

    return Session("127.0.0.1", port, client_id, [TELEMETRY], receive_maximum=RECEIVE_MAXIMUM, version=5)


def session_rate(port: int, messages: int, client_id: str = "bench-session") -> float:
    """Hazwatch's MQTT 5 session alone: read each group the socket holds, acknowledge it in one write."""
    _session(port, client_id).close()  # the persistent session, so the broker queues what comes next
    preload(port, messages, time.time() - 86400)
    # the clock starts before connecting: the broker may put most of the backlog in the socket before
    # the first read returns, so the first group's arrival is not the first message's
    first = time.perf_counter()
    s = _session(port, client_id)
    got = 0
    try:
        while got < messages:
            group = s.read()
            if group.records:
                got += len(group.records)
                s.ack(group)
        return got / (time.perf_counter() - first)
    finally:
        s.close()


def mosquitto_sub_rate(port: int, messages: int, client_id: str = "bench-mosquitto-sub") -> float | None:
    """The C client, MQTT 5, the same receive maximum; None where mosquitto_sub is not installed."""
    exe = shutil.which("mosquitto_sub")
    if exe is None:
        return None
    base = [exe, "-h", "127.0.0.1", "-p", str(port), "-V", "5", "-i", client_id, "-c", "-x", "3600", "-q", "1",
            "-t", "hz/v1/+/+/telemetry", "-D", "connect", "receive-maximum", "65535"]
    subprocess.run([*base, "-E"], check=True, timeout=30)  # the persistent session
    preload(port, messages, time.time() - 86400)
    out = subprocess.run([*base, "-C", str(messages), "-F", "%U"], check=True, capture_output=True, text=True,
                         timeout=600).stdout.split()
    first, last = float(out[0]), float(out[-1])
    return (len(out) - 1) / (last - first)


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
    _session(port, client_id).close()  # its persistent session, as the receiver makes it
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


def write_docs(session: float, csub: float | None, hz: float, messages: int, rounds: int, cmd: str) -> None:
    best = max(session, csub or 0.0)
    rows = [("Hazwatch's MQTT 5 session alone (read a group, acknowledge it in one write)", session)]
    if csub is not None:
        rows.append(("`mosquitto_sub -V 5` (C client, acknowledge each)", csub))
    table = "".join(f"| {name} | {r:,.0f} | {r * PER_DEVICE:,.0f} |\n" for name, r in rows)
    verdict = "meets" if hz / PER_DEVICE >= 0.8 * best else "misses"
    write_section("mqtt", (
        f"## MQTT ingest\n\nCommand: `{cmd}`  \n{machine()} {messages:,} QoS 1 messages of {PER_DEVICE} readings "
        f"each, queued in a Mosquitto started for the run (`set_tcp_nodelay true`, no queue limit) for a persistent "
        f"MQTT 5 session with a receive maximum of 65,535, drained by each consumer in turn under those same "
        f"settings, {rounds} rounds, medians; rate from first message to last (for Hazwatch: to the last reading "
        f"stored in DuckDB with limits evaluated).\n\n"
        f"| consumer | messages/s | readings/s |\n|---|---:|---:|\n{table}"
        f"| Hazwatch MQTT adapter (spool, fsync, acknowledge; decode, validate, store, evaluate) | "
        f"{hz / PER_DEVICE:,.0f} | {hz:,.0f} |\n\n"
        f"Hazwatch reaches {hz / PER_DEVICE / best:.0%} of the better reference: it {verdict} the 80 % target."))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    sessions, csubs, hzs = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_broker(Path(tmp))
        try:
            for r in range(args.rounds):
                sess = session_rate(port, args.messages, f"bench-session-{r}")
                csub = mosquitto_sub_rate(port, args.messages, f"bench-csub-{r}")
                hz = hazwatch_rate(port, args.messages, Path(tmp) / f"round-{r}", f"bench-hz-{r}")
                sessions.append(sess)
                hzs.append(hz)
                if csub is not None:
                    csubs.append(csub)
                best = max(sess, csub or 0.0)
                print(f"round {r + 1}: session {sess:>8,.0f}   mosquitto_sub "
                      f"{f'{csub:>8,.0f}' if csub else '     n/a'}   hazwatch {hz / PER_DEVICE:>8,.0f} messages/s "
                      f"({hz / PER_DEVICE / best:.0%} of the better)", flush=True)
        finally:
            proc.terminate()
            proc.wait(10)
    sess, hz = statistics.median(sessions), statistics.median(hzs)
    csub = statistics.median(csubs) if csubs else None
    best = max(sess, csub or 0.0)
    print(f"Hazwatch's session alone {sess:>10,.0f} messages/s")
    print(f"mosquitto_sub -V 5       {csub:>10,.0f} messages/s" if csub else "mosquitto_sub: not installed")
    print(f"hazwatch MQTT adapter    {hz / PER_DEVICE:>10,.0f} messages/s   ({hz:,.0f} readings/s stored; "
          f"{hz / PER_DEVICE / best:.0%} of the better reference, medians of {args.rounds} rounds)")
    if args.write_docs:
        write_docs(sess, csub, hz, args.messages, args.rounds,
                   "python bench/mqtt_ingest.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
