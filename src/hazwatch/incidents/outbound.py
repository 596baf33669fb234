"""Outbound HTTP on a tenant's behalf (webhooks), under the outbound policy: the host is resolved
once, every address it resolves to is checked, and the connection goes to the checked address, so
a name that answers differently the second time (DNS rebinding) reaches nothing new. The TLS server
name and the Host header stay the URL's host."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpcore
import httpx

from hazwatch.domain.errors import Invalid
from hazwatch.domain.netpolicy import OutboundPolicy


class Refused(OSError):
    """The address is not one the server calls; nothing was sent."""


def resolve(host: str, port: int, policy: OutboundPolicy) -> str:
    """The one address to connect to for `host`, or Refused. The system resolver reads every
    spelling of an address the connection would (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`), and
    a name with any address outside the policy is refused whole."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise Refused(f"the host {host!r} cannot be resolved") from e
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses or not all(policy.permits(ip) for ip in addresses):
        raise Refused(f"the host {host!r} is not an address the server may call (loopback, private, link-local, "
                      "multicast or reserved; HAZWATCH_OUTBOUND_ALLOW admits an intranet receiver)")
    return str(addresses[0])


def check_url(url: str, policy: OutboundPolicy) -> None:
    """Refuse, when it is set, a URL the server would not call (Invalid names why)."""
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise Invalid(f"webhook_url: {url!r} is not an http(s) URL with a host")
    try:
        resolve(u.hostname, u.port or (443 if u.scheme == "https" else 80), policy)
    except Refused as e:
        raise Invalid(f"webhook_url: {e}") from None


class _GuardedBackend(httpcore.SyncBackend):
    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return super().connect_tcp(resolve(host, port, self.policy), port, timeout, local_address, socket_options)


def guarded_client(policy: OutboundPolicy, timeout_s: float) -> httpx.Client:
    """An httpx client whose every connection passes the policy: made once and reused (one SSL
    context, kept-alive connections), never following redirects, never taking a proxy from the
    environment (a proxy would connect where the policy did not look)."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx builds its pool without a way to pass a network backend; the pool is replaced by one
    # with the guarded backend and the same TLS defaults (tests/security prove no connection leaks)
    transport._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), max_connections=20,
                                              max_keepalive_connections=5, keepalive_expiry=5.0,
                                              network_backend=_GuardedBackend(policy))
    return httpx.Client(transport=transport, timeout=timeout_s, follow_redirects=False, trust_env=False)
