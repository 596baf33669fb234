"""End-to-end ingest throughput: HTTP POST /api/v1/telemetry with columnar 10k-reading batches,
durable on answer, limits evaluated, against a real `hazwatch serve` subprocess; beside it the raw
append rate of the same store backend, measured in the same run.

    python bench/ingest.py [--backend duckdb|postgresql|all] [--seconds 15] [--clients 4]
                           [--sensors 2000,10000] [--write-docs]

`--sensors` (per client) runs each catalog size in turn: the same rate over more sensors means
fewer readings per sensor in a batch and more per-sensor state on the hot path.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import orjson
from benchdocs import machine, write_section

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
BATCH = 10_000
SENSORS = 2_000  # per client: each client plays a gateway with its own sensors, in time order
PG_ADMIN = os.environ.get("HAZWATCH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def catalog_file(path: Path, clients: int) -> None:
    import yaml

    sensors = [{"tag": f"B{i:05d}", "name": f"bench {i}", "kind": "pressure", "unit": "MPa", "device": "D",
                "range_low": 0, "range_high": 100, "l": 5, "h": 80, "hh": 90, "deadband": 0.5}
               for i in range(SENSORS * clients)]
    doc = {"orgs": [{"code": "R", "name": "r", "kind": "regulator"}, {"code": "P", "name": "p", "kind": "park",
                                                                       "parent": "R"},
                    {"code": "E", "name": "e", "kind": "enterprise", "parent": "P"}],
           "devices": [{"code": "D", "name": "d", "org": "E"}], "sensors": sensors}
    path.write_text(yaml.safe_dump(doc))


def bodies(n_batches: int, t0: float, client: int) -> list[bytes]:
    """Pre-serialized columnar bodies, each reading unique in (sensor, ts). Values follow slow waves
    with noise, like process values; 1 % of the sensors ride high enough to cross H now and then."""
    rng = np.random.default_rng(client)
    phase = rng.uniform(0, 2 * np.pi, SENSORS)
    base = np.where(rng.random(SENSORS) < 0.01, 62.0, 50.0)
    tags = [f"B{i:05d}" for i in range(client * SENSORS, (client + 1) * SENSORS)]
    out = []
    per_sensor = BATCH // SENSORS
    for b in range(n_batches):
        k = b * per_sensor
        ts = (t0 + (k + np.repeat(np.arange(per_sensor), SENSORS)) * 0.001).tolist()
        t = np.asarray(ts) - t0
        s = np.tile(np.arange(SENSORS), per_sensor)
        wave = base[s] + 20 * np.sin(2 * np.pi * t / 30 + phase[s]) + rng.normal(0, 1, BATCH)
        v = np.round(wave.clip(0, 100), 3).tolist()
        out.append(orjson.dumps({"sensor": tags * per_sensor, "ts": ts, "value": v}))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_server(env: dict, data_dir: Path, port: int) -> subprocess.Popen:
    hz = [sys.executable, "-m", "hazwatch.cli.main"]
    subprocess.run([*hz, "catalog", "import", str(data_dir / "catalog.yaml"), "--data-dir", str(data_dir)],
                   env=env, check=True, capture_output=True)
    proc = subprocess.Popen([*hz, "serve", "--data-dir", str(data_dir), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_healthy(proc, port, "the server")


def wait_healthy(proc: subprocess.Popen, port: int, what: str, seconds: float = 60) -> subprocess.Popen:
    """The process, once /healthz answers 200; SystemExit if it exits or does not answer in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited before it answered")
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


def http_rate(port: int, seconds: float, clients: int) -> tuple[float, int]:
    t0 = time.time() - 3000
    n_batches = int(seconds * 150 / clients) + 10
    payloads = [bodies(n_batches, t0, c) for c in range(clients)]
    accepted = [0] * clients
    stop = threading.Event()
    errors: list[str] = []

    def worker(c: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        hdr = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        for body in payloads[c]:
            if stop.is_set():
                break
            conn.request("POST", "/api/v1/telemetry", body, hdr)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                errors.append(data.decode()[:200])
                return
            accepted[c] += orjson.loads(data)["accepted"]

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"ingest failed: {errors[0]}")
    return sum(accepted) / elapsed, sum(accepted)


def raw_rate(store_url: str, seconds: float) -> float:
    from hazwatch.domain.batch import ReadingBatch
    from hazwatch.store import open_store

    store = open_store(store_url)
    rng = np.random.default_rng(1)
    s = np.tile(np.arange(SENSORS, dtype=np.int32), BATCH // SENSORS)
    t0 = int((time.time() - 100_000) * 1e6)
    n, i = 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        ts = t0 + (i * (BATCH // SENSORS) + np.repeat(np.arange(BATCH // SENSORS), SENSORS)) * 1000
        b = ReadingBatch.of(s, ts, rng.normal(50, 15, BATCH)).sorted()
        store.append(b)
        n += BATCH
        i += 1
    elapsed = time.perf_counter() - start
    store.close()
    return n / elapsed


def bench_backend(backend: str, seconds: float, clients: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"hz-bench-{backend}-"))
    env = dict(os.environ, HAZWATCH_ADMIN_TOKEN=TOKEN, HAZWATCH_LOG_LEVEL="WARNING")
    catalog_file(tmp / "catalog.yaml", clients)
    db = None
    if backend == "postgresql":
        import psycopg

        db = f"hz_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {db}")
        env["HAZWATCH_DATABASE_URL"] = PG_ADMIN.rsplit("/", 1)[0] + "/" + db
    port = free_port()
    proc = run_server(env, tmp, port)
    try:
        rate, total = http_rate(port, seconds, clients)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:  # the figure is taken; a slow shutdown must not lose it
            print(f"{backend}: the server took over 60 s to stop; killed", flush=True)
            proc.kill()
            proc.wait()
    raw_url = env["HAZWATCH_DATABASE_URL"] if db else f"duckdb:///{tmp / 'raw.duckdb'}"
    raw = raw_rate(raw_url, min(seconds, 8))
    if db:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    shutil.rmtree(tmp, ignore_errors=True)
    return {"backend": backend, "sensors": SENSORS * clients, "http": rate, "readings": total, "raw": raw}


def write_docs(results: list[dict], cmd: str, clients: int) -> None:
    rows = "\n".join(f"| {r['backend']} | {r['sensors']:,} | {r['http']:,.0f} | {r['raw']:,.0f} | "
                     f"{r['http'] / r['raw']:.0%} |" for r in results)
    write_section("ingest", (
        f"## Ingest, end to end\n\nCommand: `{cmd}`  \n{machine()} HTTP POST of columnar {BATCH:,}-reading "
        f"batches ({clients} clients, each with its own sensors, in time order) to a `hazwatch serve` "
        f"subprocess, answered after the batch is durable and "
        f"its limits evaluated. Raw append: the same backend's `append` of the same batches, no HTTP, "
        f"no validation, no evaluation, in the same run.\n\n"
        f"| backend | sensors | end to end (readings/s) | raw append (readings/s) | fraction of raw |\n"
        f"|---|---:|---:|---:|---:|\n{rows}"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["duckdb", "postgresql", "all"], default="all")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--sensors", default="2000,10000", help="sensors per client, comma-separated sizes to run")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    backends = ["duckdb", "postgresql"] if args.backend == "all" else [args.backend]
    results = []
    global SENSORS
    for b in backends:
        for n in args.sensors.split(","):
            SENSORS = int(n)  # read by the catalog, the bodies and the raw append
            r = bench_backend(b, args.seconds, args.clients)
            results.append(r)
            print(f"{b:<11} {r['sensors']:>7,} sensors  end-to-end {r['http']:>12,.0f} readings/s "
                  f"({r['readings']:,} readings)   raw append {r['raw']:>12,.0f} readings/s   "
                  f"({r['http'] / r['raw']:.0%} of raw)", flush=True)
    if args.write_docs:
        write_docs(results, "python bench/ingest.py " + " ".join(sys.argv[1:]), args.clients)


if __name__ == "__main__":
    main()
