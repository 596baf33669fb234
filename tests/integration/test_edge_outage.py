"""The edge gateway through an uplink outage: it reads a real OPC UA server the whole time, the
platform is unreachable for more than 30 s in the middle, and afterwards every reading is stored
once, in order, with nothing lost and nothing doubled."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from hazwatch.ingest.edge import EdgeConfig, EdgeGateway
from tests.integration.test_mqtt_ingest import free_port, until
from tests.integration.test_opcua_ingest import FieldServer

pytestmark = [pytest.mark.services, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer edge-admin-token"}


class Platform:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.exe = shutil.which("hazwatch", path=str(Path(sys.executable).parent)) or "hazwatch"
        self.env = {**os.environ, "HAZWATCH_DATA_DIR": str(data_dir), "HAZWATCH_ADMIN_TOKEN": "edge-admin-token"}
        self.env.pop("HAZWATCH_DATABASE_URL", None)
        self.port, self.proc = port, None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "serve", "--port", str(self.port)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert until(self._up, 20), "platform did not start"

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def test_outage_of_more_than_30_s_loses_nothing_and_doubles_nothing(tmp_path):
    platform = Platform(tmp_path / "platform", free_port())
    subprocess.run([platform.exe, "catalog", "import", str(ROOT / "tests/data/tenants.yaml")], env=platform.env,
                   check=True, capture_output=True)
    platform.start()
    secret = httpx.post(f"{platform.url}/api/v1/devices/D-EA1/credentials", headers=ADMIN, json={}).json()["secret"]
    field = FieldServer(free_port(), ["T-EA1"])
    config = EdgeConfig.model_validate({
        "uplink": {"url": platform.url, "secret": secret, "timeout_s": 2, "max_backoff_s": 1},
        "spool": {"dir": str(tmp_path / "spool")},
        "opcua": [{"endpoint": field.endpoint, "nodes": {"ns=2;s=T-EA1": "T-EA1"}}]})
    gateway = EdgeGateway(config)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(gateway.start(), loop).result(10)
    written: list[tuple[float, float]] = []
    stop_writing = threading.Event()
    t0 = time.time() - 600

    def write() -> None:
        k = 0
        while not stop_writing.is_set():
            ts, value = t0 + k * 0.05, float(k % 97)
            field.write("T-EA1", value, ts)
            written.append((round(ts, 6), value))
            k += 1
            time.sleep(0.05)

    writer = threading.Thread(target=write, daemon=True)
    try:
        assert until(lambda: gateway.adapters[0].health().counters.get("connected") == 1, 15)
        writer.start()
        assert until(lambda: gateway.counters["batches_forwarded"] > 5, 15)
        platform.stop()  # the uplink goes down ...
        outage_start = time.monotonic()
        time.sleep(32)
        assert gateway.health().state == "degraded" and gateway.spool.pending_bytes() > 0
        platform.start()  # ... and comes back after more than 30 s
        time.sleep(3)
        stop_writing.set()
        writer.join()
        assert time.monotonic() - outage_start > 30

        def series():
            return httpx.get(f"{platform.url}/api/v1/sensors/T-EA1/series", headers=ADMIN,
                             params={"start": t0 - 1, "end": t0 + 300}).json()  # not the initial value (now)

        assert until(lambda: len(series()["ts"]) >= len(written) and gateway.spool.pending_bytes() == 0, 60)
        s = series()
        assert [round(t, 6) for t in s["ts"]] == [ts for ts, _ in written]  # each once, in order
        assert s["value"] == [v for _, v in written]
        assert gateway.health().state == "running"
    finally:
        stop_writing.set()
        asyncio.run_coroutine_threadsafe(gateway.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        field.stop()
        if platform.proc and platform.proc.poll() is None:
            platform.stop()
