"""Witnesses as real HTTP servers on loopback, as the demo and a deployment run them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from hazwatch.api.witness import create_witness_api
from hazwatch.ledger.note import COSIGNATURE_V1, Signer, Verifier
from hazwatch.ledger.witness import Witness, WitnessClient
from tests.incidents.helpers import free_port


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[Callable[[Verifier, str], tuple[WitnessClient, Signer, Witness]]]:
    """start(log_vkey, name) -> (client for the log, the witness's key, the witness)."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(log: Verifier, name: str) -> tuple[WitnessClient, Signer, Witness]:
        key = Signer.generate(f"{name}.example/witness", COSIGNATURE_V1)
        w = Witness(key, [log], tmp_path / f"{name}.state.json")
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_witness_api(w), host="127.0.0.1", port=port,
                                               log_level="warning"))
        t = threading.Thread(target=server.run, daemon=True)
        t.start()
        servers.append((server, t))
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{url}/vkey", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        return WitnessClient(url, key.verifier), key, w

    yield start
    for server, t in servers:
        server.should_exit = True
        t.join(timeout=5)
