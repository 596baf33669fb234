"""Schemathesis against the published OpenAPI document (docs/openapi.json) and a live server: no
answer is a 5xx and none breaks the schema the document gives it.

In `make test` the run is fixed (a seed and a few examples per operation: the same cases every
time, a couple of minutes); `make reliability` sets HZ_FUZZ_EXAMPLES and HZ_FUZZ_SEED=random for the
long random run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
USER, PASSWORD = "fuzz", "fuzz-password-123"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path):
    hazwatch = shutil.which("hazwatch", path=str(Path(sys.executable).parent)) or "hazwatch"
    st = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a test dependency (pip install -e '.[test]')"
    port = _free_port()
    env = {**os.environ, "HAZWATCH_DATA_DIR": str(tmp_path / "data"), "HAZWATCH_ADMIN_TOKEN": "fuzz-admin-token",
           "HAZWATCH_RATE_LIMIT_RPS": "0", "HAZWATCH_LOGIN_RATE_LIMIT_RPS": "0"}
    env.pop("HAZWATCH_DATABASE_URL", None)
    subprocess.run([hazwatch, "catalog", "import", str(ROOT / "tests/data/tenants.yaml")], env=env, check=True,
                   capture_output=True)
    subprocess.run([hazwatch, "users", "add", USER, "--role", "admin", "--password-stdin"], env=env, check=True,
                   input=PASSWORD + "\n", text=True, capture_output=True)
    server = subprocess.Popen([hazwatch, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        r = httpx.post(f"{base}/api/v1/telemetry", headers={"Authorization": "Bearer fuzz-admin-token"},
                       json={"sensor": ["T-EA1", "T-EA1B", "T-EA2", "T-EB1"], "ts": [time.time()] * 4,
                             "value": [60, 60, 60, 60]})
        assert r.json()["accepted"] == 4
        seed = os.environ.get("HZ_FUZZ_SEED", "20261207")
        run = subprocess.run(
            [st, "--config-file", str(HERE / "schemathesis.toml"), "run", str(ROOT / "docs/openapi.json"),
             "--url", base, "--checks", "not_a_server_error,response_schema_conformance", "--workers", "1",
             "--max-examples", os.environ.get("HZ_FUZZ_EXAMPLES", "8"), *(["--seed", seed] if seed != "random" else []),
             "--no-color"],
            env={**env, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks", "PYTHONPATH": str(ROOT),
                 "HZ_FUZZ_URL": base, "HZ_FUZZ_USER": USER, "HZ_FUZZ_PASSWORD": PASSWORD},
            capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    finally:
        server.terminate()
        out = server.communicate(timeout=10)[0].decode(errors="replace")
    assert "Traceback" not in out, out[-5000:]
