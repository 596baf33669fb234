"""Soak: the demo (`hazwatch demo`, its simulated park running as usual) under a steady extra load
of 100,000 readings/s over HTTP for 30 minutes or a stated duration, its alarms churning: probe
sensors cross their H limit and back in turn (a raise and a clear every second) and each raise is
acknowledged over the API. DuckDB's cache is capped low (128 MB unless `--duckdb-memory` says
otherwise) so that it fills in the first minutes instead of hiding growth for twenty. Every window
it samples the server's resident memory, the memory DuckDB says it holds and, apart, the rest (the
Python heap, numpy, libraries: RSS less DuckDB's) with the Python allocator's block count, the
latency of the load's requests and of the probe alarms (watched on the WebSocket), and counts
errors. At the end: the slope of the rest over the last hour (or the second half of a shorter
run; where caches have filled, growth that goes on is a leak), latency drift from the first
windows to the last, and every error. `--write-docs` also keeps the per-window log as CSV beside
docs/benchmarks.md.

    python bench/soak.py [--minutes 30] [--rate 100000] [--window 30] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import orjson
from benchdocs import machine, scratch, write_section

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "soak-token"
SENSORS, BATCH = 5_000, 10_000
WINDOW_S = 30
PROBES = 5  # each crosses H every 5 s, staggered: one probe alarm a second, enough for a p99


def catalog(path: Path) -> None:
    import yaml

    doc = {"orgs": [{"code": "R-SOAK", "name": "Soak region", "kind": "region"},
                    {"code": "P-SOAK", "name": "Soak park", "kind": "park", "parent": "R-SOAK"},
                    {"code": "E-SOAK", "name": "Soak works", "kind": "enterprise", "parent": "P-SOAK"}],
           "devices": [{"code": "D-SOAK", "name": "Soak DCS", "org": "E-SOAK"}],
           "sensors": [{"tag": f"SOAK-{i:05d}", "name": f"soak {i}", "kind": "pressure", "unit": "MPa",
                        "device": "D-SOAK", "range_low": 0, "range_high": 100, "h": 80, "hh": 90, "deadband": 0.5}
                       for i in range(SENSORS)]
           + [{"tag": f"SOAK-PROBE-{i}", "name": f"probe {i}", "kind": "pressure", "unit": "MPa", "device": "D-SOAK",
               "range_low": 0, "range_high": 100, "h": 80, "deadband": 0.5} for i in range(PROBES)]}
    path.write_text(yaml.safe_dump(doc))


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children (the MQTT receiver, if any)."""
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


class Load:
    """Columnar 10k-reading batches at a steady rate from two connections, each reading unique."""

    def __init__(self, port: int, rate: float) -> None:
        self.port, self.rate = port, rate
        self.lat: list[tuple[float, float]] = []  # (time, seconds)
        self.errors: list[str] = []
        self.sent = 0
        self.stop = threading.Event()
        self.tags = [f"SOAK-{i:05d}" for i in range(SENSORS)]
        self.lock = threading.Lock()
        self.k = 0

    def next_body(self) -> bytes:
        with self.lock:
            k = self.k
            self.k += 1
        per = BATCH // SENSORS
        t0 = time.time() - 5
        ts = np.repeat(t0 + np.arange(per) * 1e-4 + (k % 1000) * 1e-7, SENSORS)  # unique per (sensor, k)
        values = 50 + 10 * np.sin(k / 50 + np.arange(BATCH) % SENSORS)
        return orjson.dumps({"sensor": self.tags * per, "ts": ts, "value": values},
                            option=orjson.OPT_SERIALIZE_NUMPY)

    def run(self, clients: int = 2) -> list[threading.Thread]:
        every = BATCH * clients / self.rate

        def client() -> None:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            hdr = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            due = time.perf_counter()
            while not self.stop.is_set():
                body = self.next_body()
                start = time.perf_counter()
                try:
                    c.request("POST", "/api/v1/telemetry", body, hdr)
                    r = c.getresponse()
                    data = r.read()
                    if r.status != 200:
                        self.errors.append(f"{r.status} {data[:200]!r}")
                    else:
                        self.sent += orjson.loads(data)["accepted"]
                except (OSError, http.client.HTTPException) as e:
                    self.errors.append(repr(e))
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.lat.append((time.time(), time.perf_counter() - start))
                due += every
                time.sleep(max(0.0, due - time.perf_counter()))

        threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
        for t in threads:
            t.start()
        return threads


class Probe:
    """Each probe sensor over its H limit and back every 5 s, one probe after the other (a probe
    alarm a second; one sensor raising every second would be chatter); each alarm's latency from
    the reading's time to its arrival on the WebSocket."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lat: list[tuple[float, float]] = []
        self.acked = 0
        self.to_ack: list[int] = []
        self.ack_lock = threading.Lock()
        self.stop = threading.Event()
        threading.Thread(target=self._ack, daemon=True).start()
        threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True).start()
        threading.Thread(target=self._drive, daemon=True).start()

    def _drive(self) -> None:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        hdr = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        high = [False] * PROBES
        k = 0
        while not self.stop.wait(2.5 / PROBES):
            i, k = k % PROBES, k + 1
            high[i] = not high[i]
            body = orjson.dumps({"sensor": [f"SOAK-PROBE-{i}"], "ts": [time.time()],
                                 "value": [95.0 if high[i] else 10.0]})
            try:
                c.request("POST", "/api/v1/telemetry", body, hdr)
                c.getresponse().read()
            except (OSError, http.client.HTTPException):
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def _ack(self) -> None:
        """Acknowledge each probe alarm's raise, as an operator would (the journal grows with it)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        hdr = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        while not self.stop.wait(0.2):
            with self.ack_lock:
                ids, self.to_ack = self.to_ack, []
            for alarm_id in ids:
                try:
                    c.request("POST", f"/api/v1/alarms/{alarm_id}/ack", b'{"comment": "soak"}', hdr)
                    if c.getresponse().read() is not None:
                        self.acked += 1
                except (OSError, http.client.HTTPException):
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    async def _watch(self) -> None:
        import websockets

        url = f"ws://127.0.0.1:{self.port}/api/v1/stream?values=false&token={TOKEN}"
        async with websockets.connect(url, max_size=None) as ws:
            with contextlib.suppress(websockets.ConnectionClosed):  # the server stops at the end
                await self._read(ws)

    async def _read(self, ws) -> None:
        async for text in ws:
            m = orjson.loads(text)
            a = m.get("alarm") or {}
            if m.get("event") == "raised" and str(a.get("sensor")).startswith("SOAK-PROBE-"):
                at = datetime.fromisoformat(a["raised_at"].replace("Z", "+00:00")).timestamp()
                self.lat.append((time.time(), time.time() - at))
                with self.ack_lock:
                    self.to_ack.append(a["id"])
            if self.stop.is_set():
                return


def memory(port: int) -> tuple[float, float]:
    """(DuckDB's memory in MB, the Python allocator's blocks in thousands), from /metrics."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    text = c.getresponse().read().decode()
    got = {m[1]: float(m[2]) for m in re.finditer(r"^(hazwatch_store_memory_bytes|hazwatch_python_allocated_blocks)"
                                                   r" ([0-9.e+]+)$", text, re.M)}
    return got.get("hazwatch_store_memory_bytes", float("nan")) / 2**20, \
        got.get("hazwatch_python_allocated_blocks", float("nan")) / 1000


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) * 1000 if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--rate", type=float, default=100_000)
    ap.add_argument("--window", type=float, default=WINDOW_S, help="seconds per sample")
    ap.add_argument("--duckdb-memory", default="128MB", help="DuckDB's cache cap for the run")
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--from-log", type=Path, help="report a run from what it printed, without running one")
    args = ap.parse_args()
    if args.from_log:
        windows = from_log(args.from_log.read_text())
        args.minutes = round(windows[-1]["t"] / 60)
        report(windows, [f"{windows[-1]['errors']} error(s) during the run"] if windows[-1]["errors"] else [], args)
        return
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(dir=scratch()) as tmp:
        data = Path(tmp) / "demo"
        env = dict(os.environ, HAZWATCH_ADMIN_TOKEN=TOKEN, HAZWATCH_LOG_LEVEL="WARNING",
                   HAZWATCH_DUCKDB_MEMORY_LIMIT=args.duckdb_memory)
        hz = [sys.executable, "-m", "hazwatch.cli.main"]
        catalog(Path(tmp) / "soak.yaml")
        subprocess.run([*hz, "catalog", "import", str(Path(tmp) / "soak.yaml"), "--data-dir", str(data)], env=env,
                       check=True, capture_output=True)
        from ingest import free_port

        port = free_port()
        log = (Path(tmp) / "demo.log").open("wb")
        proc = subprocess.Popen([*hz, "demo", "--duration", str(seconds + 120), "--port", str(port), "--data-dir",
                                 str(data)], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(600):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    c.request("GET", "/healthz")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            load, probe = Load(port, args.rate), Probe(port)
            threads = load.run()
            start = time.time()
            windows = []
            while time.time() - start < seconds:
                time.sleep(args.window)
                now = time.time()
                lat = [x for t, x in load.lat if t > now - args.window]
                plat = [x for t, x in probe.lat if t > now - args.window]
                rss = rss_mb(proc.pid)
                duck, blocks = memory(port)
                w = {"t": now - start, "rss": rss, "duckdb": duck, "rest": rss - duck, "blocks_k": blocks,
                     "p50": pct(lat, 50), "p99": pct(lat, 99), "alarm_p50": pct(plat, 50),
                     "alarm_max": max(plat, default=float("nan")) * 1000, "alarms": len(probe.lat),
                     "acked": probe.acked, "rate": load.sent / (now - start), "errors": len(load.errors)}
                windows.append(w)
                print(f"{w['t'] / 60:5.1f} min  RSS {w['rss']:7.0f} MB  request p50 {w['p50']:6.1f} "
                      f"p99 {w['p99']:6.1f} ms  alarm p50 {w['alarm_p50']:6.1f} ms  {w['rate']:,.0f} readings/s  "
                      f"errors {w['errors']}  duckdb {duck:6.0f} MB  rest {w['rest']:6.0f} MB  "
                      f"py blocks {blocks:8.0f}k  alarms {w['alarms']} acked {w['acked']}",
                      flush=True)
                if proc.poll() is not None:
                    load.errors.append(f"the server exited ({proc.returncode})")
                    break
            load.stop.set()
            probe.stop.set()
            for t in threads:
                t.join(60)
        finally:
            proc.terminate()
            proc.wait(60)
    report(windows, load.errors, args, [x for _, x in probe.lat])


_LINE = re.compile(r"^\s*(?P<t>[\d.]+) min\s+RSS\s+(?P<rss>\d+) MB\s+request p50\s+(?P<p50>[\d.na]+) p99\s+"
                   r"(?P<p99>[\d.na]+) ms\s+alarm p50\s+(?P<alarm_p50>[\d.na]+) ms\s+(?P<rate>[\d,]+) readings/s\s+"
                   r"errors (?P<errors>\d+)")


def from_log(text: str) -> list[dict]:
    """The windows a run printed, one line each."""
    out = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            out.append({"t": float(m["t"]) * 60, "rss": float(m["rss"]), "p50": float(m["p50"]),
                        "p99": float(m["p99"]), "alarm_p50": float(m["alarm_p50"]), "alarm_max": float("nan"),
                        "rate": float(m["rate"].replace(",", "")), "errors": int(m["errors"])})
    return out


def report(windows: list[dict], errors: list[str], args, alarms: list[float] | None = None) -> None:
    def growth(part: list[dict]) -> float:
        return float(np.polyfit([w["t"] / 60 for w in part], [w["rss"] for w in part], 1)[0]) if len(part) >= 2 else 0.0

    slope, third = growth(windows[len(windows) // 2:]), growth(windows[len(windows) * 2 // 3:])
    # the application's own memory (RSS less DuckDB's): over the last hour, or the second half of a shorter run
    tail = [w for w in windows if w["t"] >= windows[-1]["t"] - 3600] if windows[-1]["t"] >= 5400 \
        else windows[len(windows) // 2:]
    have_rest = all("rest" in w for w in tail) and len(tail) >= 2
    rest_slope = float(np.polyfit([w["t"] / 3600 for w in tail], [w["rest"] for w in tail], 1)[0]) if have_rest \
        else float("nan")
    peak = max(windows, key=lambda w: w["rss"])
    k = max(1, len(windows) // 5)
    first, last = windows[:k], windows[-k:]
    p99_first, p99_last = statistics.median(w["p99"] for w in first), statistics.median(w["p99"] for w in last)
    a_first = statistics.median(w["alarm_p50"] for w in first)
    a_last = statistics.median(w["alarm_p50"] for w in last)
    rate = windows[-1]["rate"]
    lines = [f"readings/s sustained: {rate:,.0f} (offered {args.rate:,.0f})",
             f"memory: {windows[0]['rss']:,.0f} MB after {WINDOW_S} s, {windows[-1]['rss']:,.0f} MB at the end, "
             f"{peak['rss']:,.0f} MB at the most (minute {peak['t'] / 60:.1f}); growth over the second half "
             f"{slope:+.1f} MB/min, over the last third {third:+.1f} MB/min (RSS includes DuckDB's cache, "
             f"capped at {args.duckdb_memory} for the run)",
             *([f"the application's own memory (RSS less what DuckDB holds, capped at {args.duckdb_memory}): "
                f"{tail[0]['rest']:,.0f} MB to {tail[-1]['rest']:,.0f} MB over the "
                f"{'last hour' if windows[-1]['t'] >= 5400 else 'second half'}, a slope of {rest_slope:+.1f} MB/h "
                f"(target below 2 MB/h: {'met' if rest_slope < 2 else '**missed**'}); "
                f"the Python allocator's blocks {tail[0]['blocks_k']:,.0f}k to {tail[-1]['blocks_k']:,.0f}k",
                f"alarm churn: {windows[-1]['alarms']:,} probe raises (and as many clears), "
                f"{windows[-1]['acked']:,} acknowledged over the API"] if have_rest else []),
             f"request p99: {p99_first:.1f} ms in the first fifth, {p99_last:.1f} ms in the last",
             f"probe alarm p50: {a_first:.1f} ms in the first fifth, {a_last:.1f} ms in the last",
             *([f"probe alarm latency over the run ({len(alarms)} alarms): p50 {pct(alarms, 50):.1f} ms, "
                f"p99 {pct(alarms, 99):.1f} ms, max {max(alarms) * 1000:.1f} ms; target (issue 21) p99 at most "
                f"50 ms at 100,000 readings/s: {'met' if pct(alarms, 99) <= 50 else '**missed**'}"] if alarms else []),
             f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else "")]
    for line in lines:
        print(line)
    if args.write_docs:
        command = "`python bench/soak.py " + " ".join(sys.argv[1:]) + "`"
        if args.from_log:  # the run's own command; its printed windows were reported afterwards
            command = (f"`python bench/soak.py --minutes {args.minutes:g} --write-docs` (reported from its output "
                       "with `--from-log`)")
        rows = "\n".join(f"| {w['t'] / 60:.1f} | {w['rss']:,.0f} | {w['p50']:.1f} | {w['p99']:.1f} | "
                         f"{w['alarm_p50']:.1f} | {w['errors']} |" for w in windows[:: max(1, len(windows) // 12)])
        if all("rest" in w for w in windows):  # the whole per-window log, kept beside the docs
            keys = ["t", "rss", "duckdb", "rest", "blocks_k", "p50", "p99", "alarm_p50", "alarm_max", "alarms",
                    "acked", "rate", "errors"]
            csv = ROOT / "docs" / f"soak-{args.minutes:g}min.csv"
            csv.write_text(",".join(["minute", "rss_mb", "duckdb_mb", "rest_mb", "py_blocks_k", "request_p50_ms",
                                     "request_p99_ms", "alarm_p50_ms", "alarm_max_ms", "alarms", "acked",
                                     "readings_per_s", "errors"]) + "\n"
                           + "".join(",".join(f"{w[k] / 60:.2f}" if k == "t" else f"{w[k]:.1f}" for k in keys) + "\n"
                                     for w in windows))
        # the short run of `make bench` and the long run each keep their own section
        write_section("soak" if args.minutes < 30 else "soak-long", (
            f"## Soak, {args.minutes:g} minutes\n\nCommand: {command}  \n{machine()} `hazwatch demo` "
            f"(its simulated park running) plus {args.rate:,.0f} readings/s over HTTP in 10,000-reading batches "
            f"for {args.minutes:g} minutes; {PROBES} probe sensors cross their H limit in turn (one alarm a "
            f"second), each alarm timed from its reading's time to its arrival on the WebSocket. `make bench` "
            f"runs it for a few minutes; the long run is `python bench/soak.py --minutes 120 --window 60 "
            f"--write-docs`, its per-window log in `docs/soak-{args.minutes:g}min.csv`.\n\n"
            + "\n".join(f"- {line}" for line in lines)
            + "\n\n| minute | RSS MB | request p50 ms | request p99 ms | alarm p50 ms | errors so far |\n"
              "|---:|---:|---:|---:|---:|---:|\n" + rows))


if __name__ == "__main__":
    main()
