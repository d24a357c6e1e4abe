"""Which address a request came from, for sign-in limits and audit entries.

Behind a reverse proxy the TCP peer is the proxy: every client would share its limits. A proxy
appends the address it saw to `X-Forwarded-For`, so when the peer is one of `[operators]
trusted_proxies` the header is read from the right, skipping trusted proxies, and the first
address that is not one is the client. Anything left of it was written by the client (or by
proxies we do not know) and is never believed; from a peer that is not trusted the header is
ignored entirely, or a client could pick its own address (and with it a fresh limit).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

FORWARDED_FOR = "X-Forwarded-For"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ClientAddresses:
    """`of(peer, forwarded_for)`: the client's address as text (IPv4-mapped IPv6 as IPv4)."""

    trusted_proxies: tuple[IPNetwork, ...] = ()

    def of(self, peer: str | None, forwarded_for: Iterable[str] = ()) -> str:
        """`peer`: the TCP peer's address; `forwarded_for`: every `X-Forwarded-For` header's
        value, in the order received (several headers are one list, RFC 9110 §5.3)."""
        nearest = _parse(peer)
        if nearest is None:
            return peer or UNKNOWN
        if not self._trusted(nearest):
            return str(nearest)
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            address = _parse(hop)
            if address is None:
                # Not an address: whoever wrote it is not to be believed, nor anything left of
                # it. The last trusted proxy is the nearest address known to be true.
                break
            nearest = address
            if not self._trusted(address):
                break
        # All trusted (a client inside a proxy's network): the leftmost one is the client.
        return str(nearest)

    def _trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self.trusted_proxies)


def _parse(text: str | None) -> IPAddress | None:
    """An address as a proxy writes it: plain, `[v6]`, or with a `:port` (some proxies add it)."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1] or [2001:db8::1]:443
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 203.0.113.7:443
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address
