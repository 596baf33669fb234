"""The console's speed in a real browser (Debian's Chromium through Playwright): opening with 2,000
sensors and 200 active alarms, and drawing a sensor-month (one reading a second) as a trend.

    python bench/console.py [--sensors 2000] [--alarms 200] [--runs 5] [--write-docs]

Goals (issue 9): the console opens in under 2 s; a sensor-month draws in under 1 s.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdocs import machine, scratch, write_section  # noqa: E402

from hazwatch.app import build, make_api  # noqa: E402
from hazwatch.catalog.schema import CatalogDoc, DeviceDoc, OrgDoc, SensorDoc  # noqa: E402
from hazwatch.domain.batch import ReadingBatch  # noqa: E402
from hazwatch.normalize import RawBatch  # noqa: E402
from hazwatch.settings import Settings  # noqa: E402

TOKEN = "bench-console-token"
MONTH_S = 30 * 86400


def catalog(n: int) -> CatalogDoc:
    devices = [DeviceDoc(code=f"DCS-{d}", name=f"DCS {d}", org="E-BENCH") for d in range(n // 100 + 1)]
    sensors = [SensorDoc(tag=f"T{i:05d}", name=f"Temperature {i}", kind="temperature", unit="°C",
                         device=f"DCS-{i // 100}", range_low=0, range_high=200, l=10, h=80, hh=95,
                         longitude=120 + (i % 50) * 0.001, latitude=31 + (i // 50) * 0.001) for i in range(n)]
    return CatalogDoc(orgs=[OrgDoc(code="R", name="Region", kind="region"),
                            OrgDoc(code="P", name="Park", kind="park", parent="R"),
                            OrgDoc(code="E-BENCH", name="Bench enterprise", kind="enterprise", parent="P")],
                      devices=devices, sensors=sensors)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sensors", type=int, default=2000)
    ap.add_argument("--alarms", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(dir=scratch()))
    settings = Settings(data_dir=tmp, admin_token=TOKEN, report_schedule=[], feed_interval_s=0, ledger_enabled=False)
    services = build(settings)
    services.catalog.apply(catalog(args.sensors), "bench")
    services.pipeline.reload_catalog()
    services.auth.ensure_admin(TOKEN)
    now = time.time_ns() // 1000
    # a month of one reading a second for the first sensor, straight into the store
    sid = services.index.lookup(np.array(["T00000"]))[0]
    ts = np.arange(now - MONTH_S * 1_000_000, now - 60_000_000, 1_000_000, dtype=np.int64)
    for i in range(0, len(ts), 500_000):
        part = ts[i:i + 500_000]
        v = 50 + 10 * np.sin(part / 3.6e9) + np.random.default_rng(i).normal(0, 0.5, len(part))
        services.store.append(ReadingBatch.of(np.full(len(part), sid, np.int32), part, v))
    services.pipeline.start()
    tags = np.array([f"T{i:05d}" for i in range(args.sensors)])
    values = np.where(np.arange(args.sensors) < args.alarms, 85.0, 40.0)  # the first ones over H (one alarm each)
    services.pipeline.ingest(RawBatch(tags, services.index.lookup(tags), np.full(args.sensors, now),
                                      values, np.zeros(args.sensors, np.uint8))).result()
    services.pipeline.stop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_api(services), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    time.sleep(2)
    base = f"http://127.0.0.1:{port}/console/"
    opens, charts = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for _ in range(args.runs):
            ctx = browser.new_context(viewport={"width": 1360, "height": 820})
            page = ctx.new_page()
            page.add_init_script(f"sessionStorage.setItem('hz.token', '{TOKEN}'); "
                                 "localStorage.setItem('hz.lang', 'zh')")
            t0 = time.perf_counter()
            page.goto(base)
            page.wait_for_function(f"() => document.querySelectorAll('#alarms tr[data-id]').length >= {args.alarms}"
                                   " && document.body.dataset.live === '1'", timeout=60_000)
            opens.append(time.perf_counter() - t0)
            shown = page.locator("#alarms tr[data-id]").count()
            ms = page.evaluate("""() => new Promise((done) => {
                const t0 = performance.now();
                new MutationObserver((_, obs) => {
                  const info = document.querySelector('#trend-info');
                  if (info && info.dataset.step && document.querySelector('#chart canvas')) {
                    obs.disconnect(); requestAnimationFrame(() => done(performance.now() - t0)); }
                }).observe(document.body, { subtree: true, childList: true, attributes: true });
                location.hash = '#/trend/T00000?range=30d';
              })""")
            charts.append(ms / 1000)
            points = page.locator("#trend-info").inner_text()
            ctx.close()
        browser.close()
    server.should_exit = True
    services.store.close()
    shutil.rmtree(tmp, ignore_errors=True)
    o, c = statistics.median(opens), statistics.median(charts)
    print(f"console open with {args.sensors:,} sensors and {shown} alarms: median {o:.2f} s (runs: "
          f"{', '.join(f'{x:.2f}' for x in opens)})")
    print(f"sensor-month trend ({len(ts):,} readings): median {c:.2f} s (runs: "
          f"{', '.join(f'{x:.2f}' for x in charts)}); {points}")
    if args.write_docs:
        write_section("console", (
            f"## Web console\n\nCommand: `python bench/console.py {' '.join(sys.argv[1:])}`  \n{machine()} "
            "Headless Chromium (Debian's, through Playwright) on the same two cores as the server.\n\n"
            f"| measure | goal | median of {args.runs} |\n|---|---:|---:|\n"
            f"| console open: page load, log-in state, {args.sensors:,} sensors and {shown} active alarms listed, live "
            f"stream open | < 2 s | **{o:.2f} s** |\n"
            f"| trend of a sensor-month ({len(ts):,} readings at 1 Hz, downsampled by the series API) drawn | < 1 s | "
            f"**{c:.2f} s** |"))


if __name__ == "__main__":
    main()
