"""Real receivers for the disposal tests: an HTTP webhook endpoint, an SMTP server (aiosmtpd) and
a clock the tests move forward."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hazwatch.auth import Principal, Scope
from hazwatch.domain.batch import US
from hazwatch.services import Services
from tests.auth.world import PASSWORD


class ShiftedClock:
    """The system clock plus an offset the test moves: deadlines pass without waiting."""

    def __init__(self) -> None:
        self.offset_us = 0

    def now_us(self) -> int:
        return time.time_ns() // 1000 + self.offset_us

    def advance(self, minutes: float) -> None:
        self.offset_us += int(minutes * 60 * US)


_ISSUED: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, and never one this process handed out before: the
    kernel may give one free port to two calls in a row, and a test that starts several servers
    (a NATS cluster: a client and a route port each) would then see two of them collide."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ISSUED:
            _ISSUED.add(port)
            return port


@dataclass
class Webhook:
    """A local HTTP endpoint that records every POST; it answers 500 to the first `fail` of them."""

    fail: int = 0
    requests: list[tuple[dict, bytes]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Webhook:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append((dict(self.headers), body))
                status = 500 if len(hook.requests) <= hook.fail else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class Mailbox:
    """An SMTP server on localhost (aiosmtpd) keeping every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        box = self

        class Handler:
            async def handle_DATA(self, _server, _session, envelope):  # noqa: N802 - aiosmtpd's hook name
                mail = message_from_bytes(envelope.content, policy=policy.default)
                box.messages.append((list(envelope.rcpt_tos), mail))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> Mailbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def add_user(services: Services, name: str, role: str, org_code: str) -> dict[str, str]:
    """A user of `role` in the org; returns the headers of a logged-in session."""
    org = services.orgs.current().by_code(org_code)
    assert org is not None
    services.users.create(Principal(None, "test-setup", "admin", None), Scope(None), name, PASSWORD, role, org.id)
    return {"Authorization": f"Bearer {services.auth.login(name, PASSWORD).access_token}"}


def user_id(services: Services, name: str) -> int:
    return next(u["id"] for u in services.users.list(Scope(None)) if u["username"] == name)
