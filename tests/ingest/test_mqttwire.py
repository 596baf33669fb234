"""The receiver's MQTT session against a scripted broker: packets cut anywhere by TCP still come out
whole and in order, MQTT 5 properties are skipped, QoS 1 messages (and only those) get a PUBACK, a
refusal or a broker's DISCONNECT is an error the receiver reconnects on."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from hazwatch.ingest.mqtt import split
from hazwatch.ingest.mqttwire import MqttError, OldBroker, Session, varint


def publish(topic: str, payload: bytes, qos: int, pid: int = 0, props: bytes = b"", v5: bool = True) -> bytes:
    t = topic.encode()
    body = struct.pack("!H", len(t)) + t + (struct.pack("!H", pid) if qos else b"")
    body += (varint(len(props)) + props if v5 else b"") + payload
    return bytes([0x30 | qos << 1]) + varint(len(body)) + body


class ScriptedBroker:
    """Accepts one connection, answers CONNECT and SUBSCRIBE, then sends `script` in the given
    pieces (with pauses, so they arrive as separate reads) and records what the client sends."""

    def __init__(self, pieces: list[bytes], connack_code: int = 0, v5: bool = True, early: bytes = b"") -> None:
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.pieces, self.code, self.v5, self.early = pieces, connack_code, v5, early
        self.received = b""
        self.connect = b""
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        conn, _ = self.srv.accept()
        self.connect = conn.recv(4096)
        code = bytes([self.code])
        conn.sendall(b"\x20\x03\x00" + code + b"\x00" if self.v5 else b"\x20\x02\x00" + code)
        if self.code:
            conn.close()
            return
        conn.sendall(self.early)  # a resumed session's queued messages come right after CONNACK
        conn.recv(4096)  # SUBSCRIBE
        conn.sendall(b"\x90\x04\x00\x01\x00\x01" if self.v5 else b"\x90\x03\x00\x01\x01")
        for p in self.pieces:
            conn.sendall(p)
            time.sleep(0.05)
        conn.settimeout(1.0)
        end = time.time() + 1.5
        while time.time() < end:
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            if not data:
                break
            self.received += data
        conn.close()


def drain(session: Session, want: int) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.time() + 5
    while len(got) < want and time.time() < deadline:
        group = session.read()
        got += group.records
        session.ack(group)
    return got


def test_packets_cut_anywhere_come_out_whole_and_in_order():
    stream = b"".join([
        publish("hz/v1/E/D1/telemetry", b'{"a":1}', 1, pid=7, props=b"\x01\x01"),  # payload format property
        publish("hz/v1/E/D1/status", b"online", 0),
        publish("hz/v1/E/D2/telemetry", b"x" * 300, 1, pid=8),  # remaining length needs two bytes
    ])
    pieces = [stream[:3], stream[3:30], stream[30:31], stream[31:]]
    broker = ScriptedBroker(pieces)
    s = Session("127.0.0.1", broker.port, "rx", ["hz/v1/+/+/telemetry"])
    records = drain(s, 3)
    assert [split(r) for r in records] == [("hz/v1/E/D1/telemetry", b'{"a":1}'), ("hz/v1/E/D1/status", b"online"),
                                          ("hz/v1/E/D2/telemetry", b"x" * 300)]
    s.close()
    broker.thread.join(5)
    # PUBACKs for the two QoS 1 messages only, then DISCONNECT
    assert broker.received == b"\x40\x02\x00\x07" + b"\x40\x02\x00\x08" + b"\xe0\x00"
    # the session asked to be kept (expiry) and for a wide in-flight window
    assert broker.connect[:1] == b"\x10" and b"\x11\xff\xff\xff\xff" in broker.connect


def test_messages_queued_for_a_resumed_session_come_before_the_suback_and_are_kept():
    """A broker resuming a persistent session sends what it queued at once; dropping those while
    waiting for SUBACK left them unacknowledged (and, at 3.1.1's window of 20, stopped delivery)."""
    early = publish("hz/v1/E/D1/telemetry", b"queued-1", 1, pid=1) + publish("hz/v1/E/D1/telemetry", b"queued-2", 1,
                                                                             pid=2)
    broker = ScriptedBroker([publish("hz/v1/E/D1/telemetry", b"live", 1, pid=3)], early=early)
    s = Session("127.0.0.1", broker.port, "rx", ["hz/v1/+/+/telemetry"])
    assert [split(r)[1] for r in drain(s, 3)] == [b"queued-1", b"queued-2", b"live"]
    s.close()
    broker.thread.join(5)
    assert broker.received == b"".join(b"\x40\x02\x00" + bytes([i]) for i in (1, 2, 3)) + b"\xe0\x00"


def test_a_full_receive_window_queued_before_the_suback_is_kept_whole():
    """A resumed session with a backlog: the broker sends a whole Receive Maximum of messages
    (65,535, 13 MB here) before it answers SUBSCRIBE. Taking them off the buffer one slice at a
    time copied the backlog for each message, and the SUBACK never came within the wait, so the
    receiver reconnected for ever without taking a message."""
    n = 65_535
    early = b"".join(publish("hz/v1/E/D1/telemetry", b"%0180d" % i, 1, pid=i + 1) for i in range(n))
    broker = ScriptedBroker([], early=early)
    s = Session("127.0.0.1", broker.port, "rx", ["hz/v1/+/+/telemetry"], receive_maximum=65535)
    got = drain(s, n)
    assert len(got) == n and [int(split(r)[1]) for r in got[:: n // 7]] == list(range(0, n, n // 7))
    s.close()
    broker.thread.join(5)
    assert broker.received == b"".join(b"\x40\x02" + (i + 1).to_bytes(2, "big") for i in range(n)) + b"\xe0\x00"


def test_a_broker_that_speaks_only_3_1_1_is_told_apart_from_a_refusal():
    old = ScriptedBroker([], connack_code=0x01)
    with pytest.raises(OldBroker):
        Session("127.0.0.1", old.port, "rx", ["t"])
    refused = ScriptedBroker([], connack_code=0x87)  # not authorized
    with pytest.raises(MqttError, match="refused the connection") as e:
        Session("127.0.0.1", refused.port, "rx", ["t"])
    assert not isinstance(e.value, OldBroker)


def test_3_1_1_session_reads_publishes_without_properties():
    broker = ScriptedBroker([publish("a/b", b"p", 1, pid=3, v5=False)], v5=False)
    s = Session("127.0.0.1", broker.port, "rx", ["a/#"], version=4)
    assert [split(r) for r in drain(s, 1)] == [("a/b", b"p")]
    s.close()
    broker.thread.join(5)
    assert broker.received.startswith(b"\x40\x02\x00\x03")


def test_broker_disconnect_is_an_error():
    broker = ScriptedBroker([b"\xe0\x01\x8e"])  # DISCONNECT, session taken over
    s = Session("127.0.0.1", broker.port, "rx", ["t"])
    with pytest.raises(MqttError, match="disconnected"):
        drain(s, 1)
