"""Real listeners on loopback that count every connection made to them: a plain TCP socket, and a
counting tap in front of a real asyncua server, a real pymodbus server and an HTTP receiver. An
attack passes only if every count stays at zero."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

from hazwatch.sim.modbus_server import RegisterServer
from hazwatch.sim.opcua_server import serve_park
from hazwatch.sim.park import park_catalog
from tests.incidents.helpers import Webhook, free_port


class Tap:
    """Accepts on a loopback port, counts, and relays the bytes to `backend` (a port) if given."""

    def __init__(self, backend: int | None = None) -> None:
        self.backend, self.accepted = backend, 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.backend is None:
                conn.close()
                continue
            up = socket.create_connection(("127.0.0.1", self.backend))
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop = True
        self.sock.close()


class Listeners:
    """A TCP listener, an OPC UA server, a Modbus server and an HTTP receiver, each behind a tap."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop = None
        opc_port, modbus_port = free_port(), free_port()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.stop = asyncio.Event()
            doc = park_catalog()
            small = doc.model_copy(update={"sensors": [s for s in doc.sensors if s.tag == "GT305"]})
            modbus = RegisterServer(100, "127.0.0.1", modbus_port)
            task = self.loop.create_task(modbus.serve())
            self.loop.run_until_complete(serve_park(small, opc_port, ready=lambda _e: ready.set(), stop=self.stop,
                                                    actuators={"XV305": 1.0}))
            task.cancel()
            with contextlib.suppress(BaseException):
                self.loop.run_until_complete(task)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(30), "the OPC UA server did not start"
        time.sleep(0.3)
        self.hook = Webhook().start()
        hook_port = self.hook.server.server_address[1]
        self.taps = {"tcp": Tap(), "opcua": Tap(opc_port), "modbus": Tap(modbus_port), "http": Tap(hook_port)}

    def port(self, kind: str) -> int:
        return self.taps[kind].port

    def connections(self) -> dict[str, int]:
        return {k: t.accepted for k, t in self.taps.items()} | {"http-requests": len(self.hook.requests)}

    def close(self) -> None:
        for t in self.taps.values():
            t.close()
        self.hook.stop()
        if self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(15)


def spellings(port: int) -> list[str]:
    """Ways to write this machine's loopback address that resolvers and sockets accept."""
    return [f"127.0.0.1:{port}", f"localhost:{port}", f"2130706433:{port}", f"0x7f.1:{port}", f"127.1:{port}",
            f"[::ffff:127.0.0.1]:{port}", f"0.0.0.0:{port}", f"[::1]:{port}"]
