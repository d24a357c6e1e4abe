"""Outbound address check (SSRF): HTTP targets may only reach globally routable addresses.

A carrier or a connector names the URL; without this check a webhook could be pointed at the
cloud metadata service (169.254.169.254), the database on 127.0.0.1 or a host on the site's
private network, and the gateway would send it signed requests and report back how it answered.

The check runs where the connection is made, not where the URL is parsed: `GuardedBackend` is
an httpcore network backend that resolves the host itself, refuses when ANY resolved address is
not allowed (a name with one public and one private address is refused, not half-trusted), and
then connects to an address it has just checked. There is no second lookup between check and
connect, so a name that answers a public address first and 127.0.0.1 next (DNS rebinding) gets
nowhere. TLS is unaffected: httpcore starts TLS on the returned stream with the URL's host name
as SNI and verifies the certificate against that name, and the Host header comes from the URL,
so a receiver behind a name-based virtual host or CDN still gets the request it expects.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import httpcore

__all__ = ["AddressPolicy", "GuardedBackend", "TargetRefused"]

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


class TargetRefused(Exception):
    """The target resolves into a range the gateway must not send to. Not an OSError on
    purpose: it is a decision, not a network failure, and must not be retried."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"target {host} resolves to {address} ({reason}); refused")
        self.host = host
        self.address = address
        self.reason = reason


class AddressPolicy:
    """Which resolved addresses an outbound connection may use: the globally routable ones,
    plus those inside `allow` (an operator's internal receiver, the tests' loopback)."""

    def __init__(self, allow: Iterable[Network] = ()) -> None:
        self._allow = tuple(allow)

    def literal_refusal(self, host: str) -> str | None:
        """Why a URL's host is refused when it is an IP literal; None for names, which only
        the check at send time can judge (what they resolve to may change)."""
        try:
            address = ip_address(host.strip("[]").split("%", 1)[0])
        except ValueError:
            return None
        return self.refusal(address)

    def refusal(self, address: Address) -> str | None:
        """Why `address` is refused, or None when it may be used."""
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            # ::ffff:127.0.0.1 is 127.0.0.1 to the kernel; judge (and allow) it as such.
            address = address.ipv4_mapped
        if any(address.version == net.version and address in net for net in self._allow):
            return None
        # The named classes first, for a message an operator understands; `is_global` last
        # catches the rest (shared 100.64/10, documentation and benchmark ranges, 6to4...).
        for reason, hit in (
            ("unspecified", address.is_unspecified),
            ("loopback", address.is_loopback),
            ("link-local", address.is_link_local),
            ("multicast", address.is_multicast),
            ("reserved", address.is_reserved),  # before private, which includes 240/4
            ("private", address.is_private),
            ("not globally routable", not address.is_global),
        ):
            if hit:
                return reason
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, connecting only to addresses `policy` allows (see above)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port)
        for address in addresses:
            reason = self._policy.refusal(address)
            if reason is not None:
                raise TargetRefused(host, str(address), reason)
        last: Exception | None = None
        for address in addresses:  # in the resolver's order, as a plain connect would
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                last = err
        assert last is not None  # _resolve never returns an empty list
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused(path, path, "a local socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    @staticmethod
    async def _resolve(host: str, port: int) -> list[Address]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as err:
            raise httpcore.ConnectError(f"cannot resolve {host}: {err.strerror}") from err
        addresses: list[Address] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            # An IPv6 sockaddr may carry a scope ("fe80::1%eth0"); the address is before it.
            address = ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        return addresses
