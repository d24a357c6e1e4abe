"""SSRF: HTTP targets resolving to loopback, private, link-local or reserved addresses are
refused at send time (no connection attempt), unless their network is allowed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

import pytest

from gateway.delivery.routes import Route, TargetKind
from gateway.delivery.transports.addresses import AddressPolicy
from gateway.delivery.transports.base import Outcome
from gateway.delivery.transports.http import HttpTransport
from gateway.domain.webhooks import DeliveryState
from gateway.sdk.connectors import HttpRequest
from gateway.store import Store
from tests.delivery.engine_support import (
    CARRIER,
    FAST,
    Book,
    ProbeConfig,
    ProbeConnector,
    TokenAuth,
    add_attachment,
    enqueue,
    make_engine,
    rows,
)

Allowed = tuple[IPv4Network | IPv6Network, ...]


@dataclass
class Listener:
    """A real HTTP/1.1 endpoint on 127.0.0.1 that counts the connections it accepts."""

    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    state = Listener()
    server = await asyncio.start_server(state.serve, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    async with server:
        yield state


def _route(url: str) -> Route:
    return Route(
        kind=TargetKind.CONNECTOR,
        target_id="hooks",
        carrier_id=CARRIER,
        connector=ProbeConnector(config=ProbeConfig(url=url)),
        auth=TokenAuth(),
        policy=FAST,
    )


async def _send(url: str, allow: Allowed = ()) -> Outcome:
    request = HttpRequest(url=url, body=b"{}", headers={"Content-Type": "application/json"})
    async with HttpTransport(allow_private=allow) as transport:
        return await transport.send(request, _route(url), event_id="e1", attempt=1)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("localhost", "loopback"),  # a name resolving to loopback
        ("[::ffff:127.0.0.1]", "loopback"),  # IPv4-mapped: the kernel's 127.0.0.1
    ],
)
async def test_a_loopback_target_is_refused_without_a_connection(
    listener: Listener, host: str, reason: str
) -> None:
    outcome = await _send(f"http://{host}:{listener.port}/hooks")
    assert not outcome.ok
    assert outcome.permanent  # retrying cannot make the address public
    assert outcome.status is None
    assert outcome.error is not None
    assert f"({reason})" in outcome.error
    await asyncio.sleep(0.05)  # a connection, had one been made, would be accepted by now
    assert listener.connections == 0


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("10.0.0.1", "private"),
        ("192.168.1.20", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("[::1]", "loopback"),
        ("[fe80::1]", "link-local"),
        ("[fd00::5]", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
    ],
)
async def test_private_link_local_and_reserved_targets_are_refused(host: str, reason: str) -> None:
    # Refused before any connect: a connect to 10.0.0.1 would otherwise hang until the timeout.
    outcome = await asyncio.wait_for(_send(f"https://{host}:8443/hooks"), timeout=2)
    assert not outcome.ok
    assert outcome.permanent
    assert outcome.error is not None
    assert f"({reason})" in outcome.error


async def test_an_allowed_network_is_sent_to(listener: Listener) -> None:
    outcome = await _send(
        f"http://localhost:{listener.port}/hooks",
        allow=(IPv4Network("127.0.0.0/8"), IPv6Network("::1/128")),
    )
    assert outcome.ok
    assert outcome.status == 204
    assert listener.connections == 1
    # The Host header is the URL's, not the address connected to.
    assert f"host: localhost:{listener.port}".encode() in listener.requests[0].lower()


async def test_an_allow_list_of_another_network_still_refuses(listener: Listener) -> None:
    outcome = await _send(
        f"http://127.0.0.1:{listener.port}/hooks", allow=(IPv4Network("10.20.0.0/16"),)
    )
    assert outcome.permanent
    assert listener.connections == 0


def test_public_addresses_pass_and_allowed_ones_too() -> None:
    policy = AddressPolicy([IPv4Network("10.20.0.0/16")])
    assert policy.refusal(ip_address("93.184.216.34")) is None
    assert policy.refusal(ip_address("2606:4700::1111")) is None
    assert policy.refusal(ip_address("10.20.3.4")) is None
    assert policy.refusal(ip_address("10.21.0.1")) == "private"


async def test_a_refusal_is_logged_once_per_host(
    listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{listener.port}/hooks"
    request = HttpRequest(url=url, body=b"{}", headers={})
    with caplog.at_level(logging.WARNING, logger="gateway.delivery.transports.http"):
        async with HttpTransport() as transport:
            for attempt in (1, 2, 3):
                await transport.send(request, _route(url), event_id="e1", attempt=attempt)
    refusals = [r for r in caplog.records if "refusing to send to 127.0.0.1" in r.getMessage()]
    assert len(refusals) == 1


async def test_the_engine_records_a_refused_delivery_as_dead(
    store: Store, listener: Listener
) -> None:
    url = f"http://127.0.0.1:{listener.port}/hooks"
    book = Book()
    book.add("c1", url)
    await add_attachment(store, "c1", url)
    await enqueue(store, "c1", "P-SSRF", 1)
    engine = make_engine(store, book, transports={HttpRequest: HttpTransport()})
    async with engine:
        assert await engine.run_once() == 1
    (row,) = await rows(store, "c1")
    assert (row.state, row.attempts) == (DeliveryState.DEAD, 1)
    assert row.last_error is not None
    assert "(loopback); refused" in row.last_error
    assert row.next_attempt_at is None
    assert listener.connections == 0


async def test_the_address_checked_is_the_address_connected_to(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name that answers an allowed address to the check and 127.0.0.1 to
    any later lookup. Only 127.0.0.2 is allowed; nothing listens there, the listener is on
    127.0.0.1. A transport that looked the name up again to connect would reach it."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    answers = iter(["127.0.0.2", "127.0.0.1", "127.0.0.1"])

    async def rebinding(host: str, port: int, **kwargs: Any) -> Any:
        if host == "rebind.test":
            host = next(answers)
        return await real(host, port, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    outcome = await _send(
        f"http://rebind.test:{listener.port}/hooks", allow=(IPv4Network("127.0.0.2/32"),)
    )
    assert not outcome.ok
    assert not outcome.permanent  # allowed, just nobody there: an ordinary connect error
    assert outcome.error is not None
    assert "ConnectError" in outcome.error
    assert listener.connections == 0
