"""Real NATS servers started by the tests (a three-node JetStream cluster on loopback ports, or
two servers joined as hub and leaf) and Hazwatch nodes started as a user starts them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import TOKEN
from tests.incidents.helpers import free_port

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def need_nats_server() -> None:
    if Path(NATS_SERVER).exists():
        return
    if os.environ.get("HAZWATCH_REQUIRE_SERVICES") == "1":
        pytest.fail("nats-server is required in CI (apt-get install nats-server)")
    pytest.skip("nats-server is not installed")


@dataclass
class NatsServer:
    name: str
    port: int
    conf: Path
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([NATS_SERVER, "-c", str(self.conf)], stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@dataclass
class Cluster:
    servers: list[NatsServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return ",".join(s.url for s in self.servers)


def _write(server: NatsServer, body: str) -> NatsServer:
    server.conf.write_text(body)
    return server


def wait_jetstream(url: str, replicas: int, seconds: float = 60) -> None:
    """Until the servers have elected their JetStream leaders and can place a stream of `replicas`."""
    import nats
    from nats.js.api import StreamConfig

    async def probe() -> bool:
        try:
            nc = await nats.connect(servers=url.split(","), connect_timeout=2, max_reconnect_attempts=0)
        except Exception:  # noqa: BLE001 - not up yet
            return False
        try:
            js = nc.jetstream(timeout=3)
            await js.add_stream(StreamConfig(name="HZ_PROBE", subjects=["hz.probe"], num_replicas=replicas))
            await js.delete_stream("HZ_PROBE")
            return True
        except Exception:  # noqa: BLE001 - no leader yet
            return False
        finally:
            await nc.close()

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if asyncio.run(probe()):
            return
        time.sleep(0.5)
    raise AssertionError(f"JetStream at {url} did not become ready")


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Three JetStream servers clustered on loopback ports."""
    need_nats_server()
    ports, routes = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
    cluster = Cluster()
    for i in range(3):
        d = tmp_path / f"nats{i}"
        d.mkdir()
        others = ", ".join(f"nats-route://127.0.0.1:{routes[j]}" for j in range(3) if j != i)
        cluster.servers.append(_write(NatsServer(f"n{i}", ports[i], d / "server.conf", d / "server.log"), f"""
server_name: n{i}
listen: 127.0.0.1:{ports[i]}
jetstream {{ store_dir: "{d / 'js'}" }}
cluster {{
  name: hazwatch
  listen: 127.0.0.1:{routes[i]}
  routes: [{others}]
}}
"""))
    try:
        for s in cluster.servers:
            s.start()
        wait_jetstream(cluster.url, 3)
        yield cluster
    finally:
        for s in cluster.servers:
            s.stop()


@dataclass
class Node:
    """`hazwatch serve --role ...` in its own process."""

    role: str
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> dict | None:
        try:
            r = httpx.get(self.base + "/readyz", timeout=2)
        except httpx.HTTPError:
            return None
        return r.json() if r.status_code == 200 else None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_node(role: str, name: str, tmp_path: Path, env: dict[str, str], data_dir: Path | None = None) -> Node:
    port = free_port()
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hazwatch.cli.main", "serve", "--role", role, "--port", str(port),
         "--data-dir", str(data_dir or tmp_path / name)],
        env={**os.environ, "HAZWATCH_NODE_ID": name, "HAZWATCH_ADMIN_TOKEN": TOKEN, "HAZWATCH_LOG_LEVEL": "INFO",
             "HAZWATCH_LEDGER_ENABLED": "false", "HAZWATCH_REPORT_SCHEDULE": "[]", **env},
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return Node(role, name, port, proc, log)


def wait_ready(nodes: list[Node], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    waiting = list(nodes)
    while waiting and time.monotonic() < deadline:
        waiting = [n for n in waiting if n.ready() is None]
        for n in waiting:
            if n.proc.poll() is not None:
                raise AssertionError(f"{n.name} exited: {n.log.read_text()[-3000:]}")
        time.sleep(0.2)
    if waiting:
        raise AssertionError("not ready: " + "; ".join(f"{n.name}: {n.log.read_text()[-2000:]}" for n in waiting))


class Link:
    """A TCP relay standing for the WAN between a park and its regulator: `cut()` drops it and
    every connection through it, `restore()` brings it back on the same port."""

    def __init__(self, target_port: int) -> None:
        import socket
        import threading

        self._socket, self._threading = socket, threading
        self.target = target_port
        self.port = free_port()
        self._conns: list = []
        self._listener = None
        self._lock = threading.Lock()

    def restore(self) -> None:
        s = self._socket.socket()
        s.setsockopt(self._socket.SOL_SOCKET, self._socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen()
        self._listener = s
        self._threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = self._socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept(); close() alone does not
                self._listener.shutdown(self._socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(self._socket.SHUT_RDWR)
            c.close()


@dataclass
class Tiers:
    regulator: NatsServer
    park: NatsServer
    link: Link


@pytest.fixture
def tiers(tmp_path: Path) -> Iterator[Tiers]:
    """A regulator's NATS server (JetStream domain `hub`) and a park's (domain `park`) joined as a
    leaf node through a link the test can cut."""
    need_nats_server()
    leaf = free_port()
    rd, pd = tmp_path / "nats-regulator", tmp_path / "nats-park"
    rd.mkdir()
    pd.mkdir()
    link = Link(leaf)
    regulator = _write(NatsServer("regulator", free_port(), rd / "server.conf", rd / "server.log"), "")
    # it advertises the link's address: a leaf that learnt the real one would reconnect around the cut
    regulator.conf.write_text(f"""
server_name: regulator
listen: 127.0.0.1:{regulator.port}
jetstream {{ store_dir: "{rd / 'js'}", domain: hub }}
leafnodes {{ listen: 127.0.0.1:{leaf}, advertise: "127.0.0.1:{link.port}" }}
""")
    park = _write(NatsServer("park", free_port(), pd / "server.conf", pd / "server.log"), f"""
server_name: park
listen: 127.0.0.1:PORT
jetstream {{ store_dir: "{pd / 'js'}", domain: park }}
leafnodes {{
  reconnect: 1
  remotes: [ {{ url: "nats-leaf://127.0.0.1:{link.port}" }} ]
}}
""")
    park.conf.write_text(park.conf.read_text().replace("PORT", str(park.port)))
    try:
        regulator.start()
        link.restore()
        park.start()
        wait_jetstream(regulator.url, 1)
        wait_jetstream(park.url, 1)
        yield Tiers(regulator, park, link)
    finally:
        link.cut()
        park.stop()
        regulator.stop()


@pytest.fixture
def nats_single(tmp_path: Path) -> Iterator[NatsServer]:
    """One JetStream server on a free loopback port."""
    need_nats_server()
    d = tmp_path / "nats"
    d.mkdir()
    server = _write(NatsServer("single", free_port(), d / "server.conf", d / "server.log"), "")
    server.conf.write_text(f'listen: 127.0.0.1:{server.port}\njetstream {{ store_dir: "{d / "js"}" }}\n')
    try:
        server.start()
        wait_jetstream(server.url, 1)
        yield server
    finally:
        server.stop()


def prepare(database_url: str, tmp_path: Path, catalog: Path) -> None:
    """Schema and catalog first, as an operator prepares a cluster (`hazwatch catalog import`)."""
    from hazwatch.app import open_database
    from hazwatch.catalog import CatalogRepository
    from hazwatch.catalog.io import load_file
    from hazwatch.settings import Settings

    engine = open_database(Settings(database_url=database_url, data_dir=tmp_path / "setup"))
    CatalogRepository(engine).apply(load_file(catalog), str(catalog))
    engine.dispose()
