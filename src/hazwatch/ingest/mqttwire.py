"""The MQTT receiver's side of the protocol: one persistent MQTT 5 subscriber session, read in bulk.

Why not paho here. The receiver must acknowledge only what its spool has made durable, so it works
in groups: take every PUBLISH the socket holds, append them all to the spool with one fsync, send
all their PUBACKs in one write. paho hands over one message per callback (with its property
parsing, locking and a thread switch for each); on a 2-core machine that capped the receiver near
15,000 single-reading messages/s, below what a small plant's broker delivers. The packets a
subscriber meets are few (CONNACK, SUBACK, PUBLISH at QoS 0 or 1, PINGRESP, DISCONNECT), so this
module parses them straight from the receive buffer and paho stays where its callbacks cost
nothing (publishing commands, the edge gateway's uplink, tests).

The session is MQTT 5 with an unlimited Session Expiry (the broker keeps the subscription and
queues messages while the receiver is away, as MQTT 3.1.1's clean_session false did) and a Receive
Maximum of `receive_maximum`, so the broker may keep that many messages in flight and a group is
not cut to the 20 of a 3.1.1 session. Where a broker speaks only 3.1.1 (NATS's MQTT listener) the
session is 3.1.1 with clean_session false."""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import time
from dataclasses import dataclass

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_TOPIC_LEN = struct.Struct("<H")  # the spool record's own framing (ingest.mqtt.split reads it)
CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 1, 2, 3, 4, 8, 9, 12, 13, 14


# After the first bytes of a group, wait this long for more: at tens of thousands of messages a
# second one fsync then covers dozens, not a handful (it halved the receiver's CPU at 30,000/s).
LINGER_S = 0.001


class MqttError(ConnectionError):
    """The broker refused us or broke the protocol: reconnect after a pause."""


class OldBroker(MqttError):
    """The broker refused the protocol version: connect again with 3.1.1."""


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, b = divmod(n, 128)
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(buf: bytes | memoryview, i: int) -> tuple[int, int] | None:
    """(value, index after it), or None when the buffer ends inside it."""
    n = shift = 0
    while i < len(buf):
        b = buf[i]
        n |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return n, i
        shift += 7
        if shift > 21:
            raise MqttError("malformed remaining length")
    return None


def _string(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return _U16.pack(len(b)) + b


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + varint(len(body)) + body


@dataclass
class Group:
    """What one read took off the socket: spool records (the topic's length, little-endian, then
    the topic and the payload) and the PUBACKs that may go out once they are durable."""

    records: list[bytes]
    acks: bytes


class Session:
    """One connection: connect and subscribe, then `read()` groups of messages and `ack()` them."""

    def __init__(self, host: str, port: int, client_id: str, topics: list[str], *, username: str | None = None,
                 password: str | None = None, tls: bool = False, keepalive: int = 30,
                 receive_maximum: int = 1000, timeout: float = 10.0, version: int = 5) -> None:
        self.keepalive, self.version = keepalive, version
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host) if tls else raw
        self.buf = b""
        self._held = b""  # messages that arrived before SUBACK, handed out by the first read()
        self._sent = time.monotonic()
        props = b"\x11" + _U32.pack(0xFFFFFFFF) + b"\x21" + _U16.pack(receive_maximum)
        props = varint(len(props)) + props if version == 5 else b""
        flags = (0x80 if username else 0) | (0x40 if password is not None and username else 0)  # clean start 0
        body = (_string("MQTT") + bytes([version, flags]) + _U16.pack(keepalive) + props
                + _string(client_id) + (_string(username) if username else b"")
                + (_string(password) if password is not None and username else b""))
        self._send(_packet(CONNECT, 0, body))
        kind, _, data = self._next_control(CONNACK)
        code = data[1] if len(data) > 1 else 0xFF
        if version == 5 and code in (0x01, 0x84):  # unsupported protocol version, in 3.1.1's or 5's terms
            raise OldBroker(f"the broker does not speak MQTT {'5' if version == 5 else '3.1.1'}")
        if code != 0:
            raise MqttError(f"broker refused the connection (reason code {code})")
        sub = _U16.pack(1) + (b"\x00" if version == 5 else b"") + b"".join(_string(t) + b"\x01" for t in topics)
        self._send(_packet(SUBSCRIBE, 2, sub))
        _, _, data = self._next_control(SUBACK)
        plen, i = (_read_varint(data, 2) or (0, 2)) if version == 5 else (0, 2)
        codes = data[i + plen:]
        if any(c >= 0x80 for c in codes):
            raise MqttError(f"broker refused the subscription (reason codes {list(codes)})")
        self.buf, self._held = self._held + self.buf, b""
        self.sock.settimeout(0.2)

    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)
        self._sent = time.monotonic()

    def _recv(self) -> bool:
        """Read what the socket holds into the buffer; False on a timeout with nothing read."""
        try:
            data = self.sock.recv(1 << 20)
        except (TimeoutError, ssl.SSLWantReadError):
            return False
        if not data:
            raise MqttError("the broker closed the connection")
        self.buf += data
        return True

    def _recv_ready(self) -> None:
        """Take what has arrived meanwhile, without waiting."""
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise MqttError("the broker closed the connection")
                self.buf += data
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        finally:
            self.sock.settimeout(0.2)

    def _next_control(self, want: int) -> tuple[int, int, bytes]:
        """Wait for the broker's answer of type `want`. Messages that come first are kept for
        `read()`: a broker resuming a session sends what it queued right after CONNACK, before it
        answers SUBSCRIBE (up to our Receive Maximum of them, megabytes), and a message dropped
        here would never be acknowledged (nor sent again on this connection). The buffer is
        walked by offset and cut once per read: cutting it per packet copied the whole backlog
        for every message. The broker has answered too late only after 10 s of silence."""
        held: list[bytes] = []
        quiet_until = time.monotonic() + 10
        while True:
            buf, i, end = self.buf, 0, len(self.buf)
            while i + 2 <= end:
                got = _read_varint(buf, i + 1)
                if got is None:
                    break
                n, j = got
                if j + n > end:
                    break
                kind, flags = buf[i] >> 4, buf[i] & 0x0F
                if kind == want:
                    self.buf = buf[j + n:]
                    self._held += b"".join(held)
                    return kind, flags, buf[j:j + n]
                if kind == PUBLISH:
                    held.append(buf[i:j + n])
                elif kind == DISCONNECT:
                    raise MqttError(f"broker disconnected us (reason code {buf[j] if n else 0})")
                i = j + n
            self.buf = buf[i:]
            if self._recv():
                quiet_until = time.monotonic() + 10
            elif time.monotonic() > quiet_until:
                self._held += b"".join(held)
                raise MqttError(f"no answer from the broker (waiting for packet type {want})")

    def read(self) -> Group:
        """The messages the socket holds now (waits up to 0.2 s for the first); pings when idle.
        Each becomes a spool record as it is parsed, and each QoS 1 one a PUBACK to send later."""
        if time.monotonic() - self._sent > self.keepalive / 2:
            self._send(b"\xc0\x00")  # PINGREQ
        if (not self.buf or self._take_would_block()) and self._recv():
            time.sleep(LINGER_S)  # let a few more arrive: one fsync for them all
            self._recv_ready()
        records: list[bytes] = []
        acks: list[bytes] = []
        buf, i, end, v5 = self.buf, 0, len(self.buf), self.version == 5
        while i + 2 <= end:
            head = buf[i]
            got = _read_varint(buf, i + 1)
            if got is None:
                break
            n, j = got
            if j + n > end:
                break
            kind = head >> 4
            if kind == PUBLISH:
                (tl,) = _U16.unpack_from(buf, j)
                k = j + 2 + tl
                topic = buf[j + 2:k]
                if head & 0x06:  # QoS 1 (a QoS 2 subscription is never asked for)
                    acks.append(b"\x40\x02" + buf[k:k + 2])
                    k += 2
                if v5:  # properties (no topic aliases: we never allow one)
                    plen, k = _read_varint(buf, k)
                    k += plen
                records.append(_TOPIC_LEN.pack(tl) + topic + buf[k:j + n])
            elif kind == DISCONNECT:
                raise MqttError(f"broker disconnected us (reason code {buf[j] if n else 0})")
            i = j + n
        self.buf = buf[i:]
        return Group(records, b"".join(acks))

    def _take_would_block(self) -> bool:
        got = _read_varint(self.buf, 1) if len(self.buf) >= 2 else None
        return got is None or len(self.buf) < got[1] + got[0]

    def ack(self, group: Group) -> None:
        """PUBACK every QoS 1 message of a durable group, in one write."""
        if group.acks:
            self._send(group.acks)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send(b"\xe0\x00")  # DISCONNECT, normal: the session stays, the will is not sent
        self.sock.close()
