"""Which addresses the server may call on a tenant's behalf (webhooks). A tenant types a URL; the
server must not become its way into the plant's own network or the server's loopback. Only global
unicast addresses pass, unless an operator admits an intranet receiver on purpose
(HAZWATCH_OUTBOUND_ALLOW). Pure: the caller resolves names (incidents/outbound.py) and asks here
about each address it would connect to."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def parse_networks(items: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """CIDR blocks (`10.20.0.0/16`, `fd00::/8`, a single address); ValueError names a bad one."""
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an address or CIDR block") from None
    return tuple(out)


def embedded_v4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and a stack may route to: mapped (::ffff:a.b.c.d),
    NAT64 (64:ff9b::/96) and 6to4 (2002::/16)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
    return None


@dataclass(frozen=True)
class OutboundPolicy:
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def permits(self, ip: IP) -> bool:
        """Global unicast only (no loopback, private, link-local, multicast, unspecified, shared or
        reserved address, in IPv4 or inside IPv6), or inside a block the operator allowed."""
        if any(ip in net for net in self.allow if net.version == ip.version):
            return True
        inner = embedded_v4(ip)
        if inner is not None:
            return self.permits(inner)
        if isinstance(ip, ipaddress.IPv6Address) and ip.teredo is not None:
            return False
        return ip.is_global and not ip.is_multicast and not ip.is_reserved and not ip.is_unspecified
