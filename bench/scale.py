"""Scale-out throughput and alarm latency: workers (`hazwatch serve --role worker`) draining the
telemetry stream into PostgreSQL, with one and with two workers; end-to-end alarm latency under
load through an ingest node; and how long a killed worker's partitions take to move.

    python bench/scale.py [--readings 2000000] [--write-docs]

It starts its own NATS server (JetStream, in .hazwatch/bench-nats) and a fresh PostgreSQL
database per run (HAZWATCH_BENCH_PG names the server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import orjson
import psycopg
from benchdocs import machine, write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
TOKEN = "bench-token"
PG_ADMIN = os.environ.get("HAZWATCH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ENTERPRISES, PER_ENTERPRISE, PARTITIONS = 8, 250, 8
WORK = ROOT / ".hazwatch" / "bench-scale"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def catalog(path: Path) -> None:
    import yaml

    orgs = [{"code": "R", "name": "r", "kind": "region"}, {"code": "P", "name": "p", "kind": "park", "parent": "R"}]
    devices, sensors = [], []
    for e in range(ENTERPRISES):
        orgs.append({"code": f"E{e}", "name": f"e{e}", "kind": "enterprise", "parent": "P"})
        devices.append({"code": f"D{e}", "name": f"d{e}", "org": f"E{e}"})
        sensors += [{"tag": f"S{e}-{i}", "name": f"s{e}-{i}", "kind": "pressure", "unit": "MPa", "device": f"D{e}",
                     "range_low": 0, "range_high": 100, "h": 80, "hh": 90, "deadband": 0.5}
                    for i in range(PER_ENTERPRISE)]
    path.write_text(yaml.safe_dump({"version": 1, "orgs": orgs, "devices": devices, "sensors": sensors}))


class Rig:
    """NATS, a fresh database with the catalog, and the nodes as subprocesses."""

    def __init__(self) -> None:
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        self.nats_port = free_port()
        self.nats = subprocess.Popen([shutil.which("nats-server") or "/usr/sbin/nats-server", "-a", "127.0.0.1",
                                      "-p", str(self.nats_port), "-js", "-sd", str(WORK / "nats")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.db = f"hz_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {self.db}")
        self.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.db
        from hazwatch.app import open_database
        from hazwatch.catalog import CatalogRepository, SensorIndex
        from hazwatch.catalog.io import load_file
        from hazwatch.settings import Settings

        engine = open_database(Settings(database_url=self.url, data_dir=WORK / "setup"))
        catalog(WORK / "catalog.yaml")
        CatalogRepository(engine).apply(load_file(WORK / "catalog.yaml"), "bench")
        self.index = SensorIndex.load(engine)
        engine.dispose()
        self.nodes: list[subprocess.Popen] = []
        time.sleep(0.5)

    def env(self) -> dict:
        return {**os.environ, "HAZWATCH_DATABASE_URL": self.url,
                "HAZWATCH_NATS_URL": f"nats://127.0.0.1:{self.nats_port}",
                "HAZWATCH_PARTITIONS": str(PARTITIONS), "HAZWATCH_ADMIN_TOKEN": TOKEN, "HAZWATCH_LEASE_TTL_S": "3",
                "HAZWATCH_LEDGER_ENABLED": "false", "HAZWATCH_FLOOD_ALARMS": "1000000", "HAZWATCH_LOG_LEVEL": "WARNING"}

    def start(self, role: str, name: str) -> tuple[subprocess.Popen, int]:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "hazwatch.cli.main", "serve", "--role", role, "--port",
                                 str(port), "--data-dir", str(WORK / name)],
                                env={**self.env(), "HAZWATCH_NODE_ID": name},
                                stdout=(WORK / f"{name}.log").open("wb"), stderr=subprocess.STDOUT)
        self.nodes.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    return proc, port
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready: {(WORK / f'{name}.log').read_text()[-2000:]}")

    def count(self) -> int:
        with psycopg.connect(self.url) as con:
            return con.execute("SELECT count(*) FROM readings").fetchone()[0]

    def close(self) -> None:
        for p in self.nodes:
            if p.poll() is None:
                p.terminate()
        for p in self.nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=20)
        self.nats.terminate()
        self.nats.wait()
        with psycopg.connect(PG_ADMIN, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")


async def preload(rig: Rig, readings: int, per_message: int = 2_000) -> int:
    """Fill the stream as ingest nodes would (one message per partition per request)."""
    from hazwatch.scale import partitions, stream, wire

    nc = await stream.connect(f"nats://127.0.0.1:{rig.nats_port}", "bench")
    js = nc.jetstream(timeout=30)
    await stream.ensure(js, 1)
    ids = np.flatnonzero(rig.index.exists).astype(np.int32)
    part = partitions.of_orgs(rig.index.org_id[ids], PARTITIONS)
    by_part = [ids[part == p] for p in range(PARTITIONS)]
    t0 = int(time.time() - 3600) * 1_000_000
    rng = np.random.default_rng(7)
    sent, step, pending = 0, 0, []
    while sent < readings:
        for p, sensors in enumerate(by_part):
            n_steps = max(1, per_message // len(sensors))
            s = np.tile(sensors, n_steps)
            ts = t0 + np.repeat(np.arange(step, step + n_steps, dtype=np.int64), len(sensors)) * 10_000
            v = 50 + 10 * rng.standard_normal(len(s))
            pending.append(js.publish(partitions.subject(p), wire.encode_readings(
                s, ts, np.clip(v, 0, 100), np.zeros(len(s), np.int8))))
            sent += len(s)
        step += max(1, per_message // PER_ENTERPRISE)
        if len(pending) >= 64:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    await nc.close()
    return sent


def drain(workers: int, readings: int) -> dict:
    """Workers started and holding their shares first; then the stream is filled as fast as
    JetStream takes it (faster than the workers drain it), and timed until every reading is stored."""
    rig = Rig()
    try:
        for i in range(workers):
            rig.start("worker", f"w{i}")
        with psycopg.connect(rig.url) as con:
            while True:
                held = dict(con.execute("SELECT owner, count(*) FROM partition_leases GROUP BY owner").fetchall())
                if len(held) == workers and all(n == PARTITIONS // workers for n in held.values()):
                    break
                time.sleep(0.2)
        time.sleep(1)  # the last owner's consumers are open
        started = time.perf_counter()
        sent = asyncio.run(preload(rig, readings))
        filled = time.perf_counter()
        while rig.count() < sent:
            time.sleep(0.1)
        done = time.perf_counter()
        with psycopg.connect(rig.url) as con:  # table and unique index, as stored
            size = con.execute("SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                               "WHERE inhparent = 'readings'::regclass").fetchone()[0]
        return {"workers": workers, "readings": sent, "seconds": done - started, "rate": sent / (done - started),
                "fill": sent / (filled - started), "bytes": int(size) / sent}
    finally:
        rig.close()


def latency(seconds: float, load_rps: float) -> dict:
    """Alarm latency under load: an ingest node takes a steady load over HTTP while a probe sensor
    is driven across HH and back; each change is timed from the POST until the worker's alarm event
    arrives on the event stream."""
    import nats

    rig = Rig()
    try:
        for i in range(2):
            rig.start("worker", f"w{i}")
        _, port = rig.start("ingest", "ingest")
        base = f"http://127.0.0.1:{port}/api/v1/telemetry"
        stop = threading.Event()
        sensors = [t for t in rig.index.tag_to_id if t != "S0-0"]
        loaded = [0]

        def load() -> None:
            rng = np.random.default_rng(3)
            with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
                while not stop.is_set():
                    t = time.time()
                    body = orjson.dumps({"sensor": sensors, "ts": [t] * len(sensors),
                                         "value": (50 + rng.standard_normal(len(sensors))).tolist()})
                    http.post(base, content=body, headers={"Content-Type": "application/json"})
                    loaded[0] += len(sensors)
                    time.sleep(max(0.0, len(sensors) / load_rps - (time.time() - t)))

        seen: dict[str, list[float]] = {"raised": [], "cleared": []}

        async def watch(ready: threading.Event) -> None:
            nc = await nats.connect(f"nats://127.0.0.1:{rig.nats_port}")
            js = nc.jetstream()
            from nats.js.api import DeliverPolicy

            async def on(msg) -> None:
                d = orjson.loads(msg.data)["d"]
                if d["alarm"]["sensor"] == "S0-0" and d["alarm"]["condition"] == "HH" and d["event"] in seen:
                    seen[d["event"]].append(time.perf_counter())
            await js.subscribe("hz.ev.alarm.changed", cb=on, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW)
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)
            await nc.close()

        ready = threading.Event()
        watcher = threading.Thread(target=lambda: asyncio.run(watch(ready)), daemon=True)
        watcher.start()
        ready.wait(10)
        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        samples, missing = [], 0
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
            end = time.monotonic() + seconds
            high = True
            while time.monotonic() < end:
                event = "raised" if high else "cleared"
                before = len(seen[event])
                sent = time.perf_counter()
                http.post(base, json={"sensor": ["S0-0"], "ts": [time.time()], "value": [95.0 if high else 50.0]})
                deadline = time.perf_counter() + 10
                while len(seen[event]) == before and time.perf_counter() < deadline:
                    time.sleep(0.0005)
                if len(seen[event]) > before:
                    samples.append(seen[event][before] - sent)
                else:  # never arrived within 10 s: counted, and it counts against the percentiles
                    missing += 1
                    samples.append(float("inf"))
                high = not high
                time.sleep(0.05)
        stop.set()
        loader.join()
        ms = np.asarray(samples) * 1000
        return {"samples": len(ms), "missing": missing, "p50": float(np.percentile(ms, 50, method="higher")),
                "p99": float(np.percentile(ms, 99, method="higher")), "load": loaded[0] / seconds}
    finally:
        rig.close()


def ingest_node(seconds: float, clients: int = 4, batch: int = 10_000) -> dict:
    """One ingest node's rate: columnar 10k-reading requests from `clients` threads, each answered
    after JetStream acknowledged it (a worker drains the stream behind it)."""
    rig = Rig()
    try:
        rig.start("worker", "w0")
        _, port = rig.start("ingest", "ingest")
        tags = list(rig.index.tag_to_id)
        per = batch // len(tags)
        counts = [0] * clients

        def client(c: int) -> None:
            rng = np.random.default_rng(c)
            t0 = time.time() - 3000 + c * 500
            with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
                              timeout=60) as http:
                k = 0
                while time.perf_counter() < end:
                    ts = np.repeat(t0 + (k + np.arange(per)) * 0.001, len(tags))
                    body = orjson.dumps({"sensor": tags * per, "ts": ts.tolist(),
                                         "value": (50 + rng.standard_normal(len(ts))).tolist()})
                    r = http.post(f"http://127.0.0.1:{port}/api/v1/telemetry", content=body)
                    r.raise_for_status()
                    counts[c] += r.json()["accepted"]
                    k += per

        end = time.perf_counter() + seconds
        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"rate": sum(counts) / (time.perf_counter() - started), "clients": clients, "batch": per * len(tags)}
    finally:
        rig.close()


def uplink_sizes() -> dict:
    """Bytes a park sends up per alarm event and per summary: an embedded deployment with the bench
    catalog (8 enterprises), one alarm raised, its journal rows and summary encoded as the uplink does."""
    from fastapi.testclient import TestClient

    from hazwatch.app import build, make_api
    from hazwatch.catalog.io import load_file
    from hazwatch.scale.tiers import Uplink, alarm_body, uplink_message
    from hazwatch.settings import Settings

    d = WORK / "uplink"
    shutil.rmtree(d, ignore_errors=True)
    catalog(WORK / "uplink-catalog.yaml")
    services = build(Settings(data_dir=d, admin_token=TOKEN, ledger_enabled=False, report_schedule=[],
                              feed_interval_s=0))
    services.catalog.apply(load_file(WORK / "uplink-catalog.yaml"), "bench")
    services.pipeline.reload_catalog()
    services.auth.ensure_admin(TOKEN)
    with TestClient(make_api(services), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        c.post("/api/v1/telemetry", json={"sensor": ["S0-0"], "ts": [time.time()], "value": [95.0]})
        time.sleep(0.5)
        rows = Uplink(services.engine, lambda: services.index, "nats://unused", "P")._journal_after(0)
        sizes = [len(uplink_message("P", "alarm", r.id, r.ts, alarm_body(r, services.index))) for r in rows]
        summary = len(orjson.dumps(c.get("/api/v1/summary").json()))
    from hazwatch.domain.batch import ReadingBatch
    from hazwatch.scale.tiers import aggregates

    ids = np.flatnonzero(services.index.exists)
    rng = np.random.default_rng(5)
    window = ReadingBatch.of(np.repeat(ids, 300), np.tile(np.arange(300) * 1_000_000, len(ids)),
                             50 + 10 * rng.standard_normal(300 * len(ids)), np.zeros(300 * len(ids), np.int8))
    per_sensor = len(orjson.dumps(aggregates(window, services.index))) / len(ids)
    return {"alarm": sum(sizes) / len(sizes), "summary": summary, "enterprises": ENTERPRISES,
            "aggregate": per_sensor}


def failover() -> dict:
    """Seconds from SIGKILL of one of two workers until the other holds all partitions."""
    rig = Rig()
    try:
        victim, _ = rig.start("worker", "w0")
        rig.start("worker", "w1")
        with psycopg.connect(rig.url) as con:
            def owners() -> dict:
                return dict(con.execute("SELECT owner, count(*) FROM partition_leases GROUP BY owner").fetchall())
            while owners().get("w0", 0) != PARTITIONS // 2:
                time.sleep(0.1)
            victim.send_signal(signal.SIGKILL)
            t = time.perf_counter()
            while owners().get("w1", 0) != PARTITIONS:
                time.sleep(0.05)
            return {"seconds": time.perf_counter() - t, "ttl": 3.0}
    finally:
        rig.close()


def wire_bytes() -> float:
    """Bytes per reading in a telemetry message (columns only; NATS adds about 100 per message)."""
    from hazwatch.scale import wire

    n = 1000
    return len(wire.encode_readings(*[np.zeros(n, t) for t in (np.int32, np.int64, np.float64, np.int8)])) / n


def write_docs(drains: list[dict], ing: dict, lat: dict, fo: dict, up: dict, cmd: str) -> None:
    rows = "\n".join(f"| {d['workers']} | {d['readings']:,} | {d['seconds']:.1f} | **{d['rate']:,.0f}** | "
                     f"{d['low']:,.0f}–{d['high']:,.0f} |" for d in drains)
    write_section("scale", (
        f"## Scale-out\n\nCommand: `{cmd}`  \n{machine()} NATS server, PostgreSQL and every node on this one "
        f"machine.\n\nWorkers draining the telemetry stream: {ENTERPRISES * PER_ENTERPRISE:,} sensors in "
        f"{ENTERPRISES} enterprises, {PARTITIONS} partitions; the workers hold their leases first, then the "
        f"stream is filled as ingest nodes fill it (one message of about 2,000 readings per partition per "
        f"request, faster than the workers drain it: {drains[0]['fill']:,.0f} readings/s), timed from the "
        f"first message until every reading is stored in PostgreSQL (one COPY per fetch) and evaluated "
        f"(limits, quality, alarms). Median of {drains[0]['runs']} runs; the range shows how much runs vary on a "
        f"machine where the database, NATS and the workers share two cores.\n\n"
        f"| workers | readings | seconds | readings/s | range |\n|---|---:|---:|---:|---:|\n{rows}\n\n"
        f"Here the second worker shares the same two cores with the first, PostgreSQL and NATS; on their own "
        f"machines each worker brings its own cores (docs/scale.md sizes from the one-worker figure).\n\n"
        f"Stored size: {drains[0]['bytes']:.0f} bytes per reading in PostgreSQL (day partitions with their "
        f"unique (sensor, ts) index), {wire_bytes():.0f} bytes per reading on the telemetry stream.\n\n"
        f"One ingest node: **{ing['rate']:,.0f} readings/s** ({ing['clients']} clients posting columnar "
        f"{ing['batch']:,}-reading requests, each answered after JetStream acknowledged it).\n\n"
        f"Alarm latency under load: an ingest node taking {lat['load']:,.0f} readings/s over HTTP, two workers; "
        f"a probe sensor driven across HH and back {lat['samples']} times, each change timed from the HTTP POST "
        f"until the worker's alarm event arrives on the event stream (validate, publish with JetStream "
        f"acknowledgement, fetch, store, evaluate, commit the alarm, publish): **p50 {lat['p50']:.1f} ms, "
        f"p99 {lat['p99']:.1f} ms**; {lat['missing']} of the changes never arrived within 10 s (each counts "
        f"as endless in the percentiles).\n\nFailover: one of two workers killed with SIGKILL; the other held all "
        f"partitions (leases taken, state rebuilt from the database) after **{fo['seconds']:.1f} s** with a lease "
        f"ttl of {fo['ttl']:.0f} s (a lease lapses at most one ttl after the last renewal; the survivor looks "
        f"every ttl/3).\n\nUp a tier (hazwatch-uplink/1 JSON): {up['alarm']:.0f} bytes per alarm journal row, "
        f"{up['summary']:,} bytes per summary of a park of {up['enterprises']} enterprises, "
        f"{up['aggregate']:.0f} bytes per sensor in a window's aggregates."))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=2_000_000)
    ap.add_argument("--latency-seconds", type=float, default=20)
    ap.add_argument("--ingest-seconds", type=float, default=15)
    ap.add_argument("--load", type=float, default=20_000, help="readings/s of background load in the latency run")
    ap.add_argument("--repeat", type=int, default=3, help="drain runs per worker count (the median is reported)")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    drains = []
    for workers in (1, 2):
        runs = []
        for _ in range(args.repeat):
            d = drain(workers, args.readings)
            runs.append(d)
            print(f"{workers} worker(s): {d['readings']:,} readings in {d['seconds']:.1f} s = {d['rate']:,.0f} "
                  f"readings/s (stream filled at {d['fill']:,.0f} readings/s)", flush=True)
        runs.sort(key=lambda r: r["rate"])
        drains.append(runs[len(runs) // 2] | {"low": runs[0]["rate"], "high": runs[-1]["rate"], "runs": len(runs)})
    ing = ingest_node(args.ingest_seconds)
    print(f"one ingest node: {ing['rate']:,.0f} readings/s ({ing['clients']} clients, {ing['batch']:,} per request)",
          flush=True)
    lat = latency(args.latency_seconds, args.load)
    print(f"alarm latency under {lat['load']:,.0f} readings/s: p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms "
          f"({lat['samples']} changes, {lat['missing']} never arrived)", flush=True)
    fo = failover()
    print(f"failover: {fo['seconds']:.1f} s (lease ttl {fo['ttl']:.0f} s)", flush=True)
    up = uplink_sizes()
    print(f"uplink: {up['alarm']:.0f} bytes per alarm event, {up['summary']:,} bytes per summary "
          f"({up['enterprises']} enterprises), {up['aggregate']:.0f} bytes per sensor and aggregate window", flush=True)
    if args.write_docs:
        cmd = "python bench/scale.py" + (f" --readings {args.readings}" if args.readings != 2_000_000 else "") + \
              " --write-docs"
        write_docs(drains, ing, lat, fo, up, cmd)


if __name__ == "__main__":
    main()
