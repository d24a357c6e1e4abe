"""Sign-in limits and audit entries behind a reverse proxy: `X-Forwarded-For` is believed from
`[operators] trusted_proxies` only (the rightmost address that is not a trusted proxy), and an
IPv6 client is limited by its /64."""

from __future__ import annotations

from collections.abc import AsyncIterator
from ipaddress import ip_network

import httpx
import pytest

from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.domain.operators import Operator, address_key
from gateway.http.client_address import ClientAddresses
from gateway.settings import Settings
from tests.admin.conftest import (
    MAX_FAILURES,
    OPERATORS,
    PASSWORD,
    admin_settings,
    password_hash,
    problem,
)
from tests.support.clock import MovableClock

PROXIES = ClientAddresses(trusted_proxies=(ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32")))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # No proxy configured in front of this peer: the header is the client's own writing.
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),
        ("127.0.0.1", [], "127.0.0.1"),
        # Through a trusted proxy: the address it saw.
        ("127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
        # A client-written entry left of it is never believed.
        ("127.0.0.1", ["198.51.100.1, 203.0.113.7"], "203.0.113.7"),
        # Two trusted hops (one header each, or one list): skipped from the right.
        ("10.1.2.3", ["198.51.100.1, 203.0.113.7", "10.0.0.5"], "203.0.113.7"),
        ("10.1.2.3", ["198.51.100.1,203.0.113.7 , 10.0.0.5"], "203.0.113.7"),
        # Everything trusted: a client inside the proxies' network.
        ("127.0.0.1", ["10.9.9.9"], "10.9.9.9"),
        # Garbage from a proxy: nothing left of it, the last trusted hop is the nearest truth.
        ("127.0.0.1", ["203.0.113.7, not-an-ip, 10.0.0.5"], "10.0.0.5"),
        ("127.0.0.1", [""], "127.0.0.1"),
        # Ports and brackets as some proxies write them; IPv4-mapped IPv6 as IPv4.
        ("127.0.0.1", ["203.0.113.7:5123"], "203.0.113.7"),
        ("127.0.0.1", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("::ffff:127.0.0.1", ["2001:db8::7"], "2001:db8::7"),
        (None, ["203.0.113.7"], "unknown"),
    ],
)
def test_the_client_is_the_rightmost_address_not_a_trusted_proxy(
    peer: str | None, forwarded: list[str], client: str
) -> None:
    assert PROXIES.of(peer, forwarded) == client


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert ClientAddresses().of("127.0.0.1", ["203.0.113.7"]) == "127.0.0.1"


@pytest.mark.parametrize(
    ("client", "key"),
    [
        ("203.0.113.7", "address:203.0.113.7"),
        ("2001:db8:1:2::1", "address:2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "address:2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "address:2001:db8:1:3::/64"),
        ("unknown", "address:unknown"),
    ],
)
def test_an_ipv6_client_is_counted_by_its_64(client: str, key: str) -> None:
    assert address_key(client) == key


async def started(settings: Settings, clock: MovableClock) -> Gateway:
    gateway = Gateway(settings=settings, clock=clock)
    await gateway.__aenter__()
    async with gateway.store.transaction() as tx:
        for operator_id, role in OPERATORS.items():
            operator = Operator(operator_id, operator_id.title(), role, clock())
            await tx.operators.add(operator, password_hash())
    return gateway


@pytest.fixture
async def proxied(database_url: str) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    """A gateway whose clients all come through a proxy on 127.0.0.1 (this test's client)."""
    settings = admin_settings(database_url, trusted_proxies=["127.0.0.1/32", "10.0.0.0/8"])
    gateway = await started(settings, MovableClock())
    try:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            yield gateway, client
    finally:
        await gateway.__aexit__(None, None, None)


async def sign_in(
    client: httpx.AsyncClient, operator_id: str, forwarded_for: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post(
        "/v1/admin/session",
        json={"operatorId": operator_id, "password": password},
        headers={"X-Forwarded-For": forwarded_for},
    )


async def audited(gateway: Gateway, action: AuditAction) -> list[dict[str, object]]:
    async with gateway.store.transaction() as tx:
        return [e.details for e in await tx.audit.latest(50, action=action.value)]


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    proxied: tuple[Gateway, httpx.AsyncClient],
) -> None:
    """One client spraying accounts is locked; another behind the same proxy is not, and the
    audit trail names the clients, not the proxy."""
    gateway, client = proxied
    # The leftmost entry is the client's own writing: a new one each time changes nothing.
    names = list(OPERATORS)
    for n in range(MAX_FAILURES):
        spoofed = f"198.51.100.{n}, 203.0.113.7"
        answer = await sign_in(client, names[n % len(names)], spoofed, "guess")
        problem(answer, 401, "SecurityError")
    locked = await sign_in(client, "alice", "203.0.113.7")
    assert "too many failed sign-ins" in problem(locked, 401, "SecurityError")["detail"]

    assert (await sign_in(client, "alice", "203.0.113.8")).status_code == 200

    failed = await audited(gateway, AuditAction.OPERATOR_LOGIN_FAILED)
    assert {d["client"] for d in failed} == {"203.0.113.7"}
    (signed_in,) = await audited(gateway, AuditAction.OPERATOR_LOGIN)
    assert signed_in["client"] == "203.0.113.8"


async def test_an_ipv6_client_cannot_rotate_through_its_64(
    proxied: tuple[Gateway, httpx.AsyncClient],
) -> None:
    _, client = proxied
    names = list(OPERATORS)
    for n in range(MAX_FAILURES):
        answer = await sign_in(client, names[n % len(names)], f"2001:db8:1:2::{n + 1}", "guess")
        problem(answer, 401, "SecurityError")
    locked = await sign_in(client, "alice", "2001:db8:1:2:ffff::9")
    assert "too many failed sign-ins" in problem(locked, 401, "SecurityError")["detail"]
    assert (await sign_in(client, "alice", "2001:db8:1:3::1")).status_code == 200


async def test_the_console_sign_in_counts_the_forwarded_client(
    proxied: tuple[Gateway, httpx.AsyncClient],
) -> None:
    gateway, client = proxied
    names = list(OPERATORS)
    for n in range(MAX_FAILURES):
        form = {"operator_id": names[n % len(names)], "password": "guess"}
        answer = await client.post(
            "/console/login", data=form, headers={"X-Forwarded-For": "203.0.113.7"}
        )
        assert answer.status_code in (401, 429), answer.text
    form = {"operator_id": "alice", "password": PASSWORD}
    locked = await client.post(
        "/console/login", data=form, headers={"X-Forwarded-For": "203.0.113.7"}
    )
    assert locked.status_code == 429
    other = await client.post(
        "/console/login", data=form, headers={"X-Forwarded-For": "203.0.113.8"}
    )
    assert other.status_code == 303, other.text
    (signed_in,) = await audited(gateway, AuditAction.OPERATOR_LOGIN)
    assert signed_in["client"] == "203.0.113.8"


async def test_from_a_peer_that_is_not_trusted_the_header_is_ignored(database_url: str) -> None:
    """The default: no proxy is trusted, so a client writing its own header gains nothing."""
    gateway = await started(admin_settings(database_url), MovableClock())
    try:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            names = list(OPERATORS)
            for n in range(MAX_FAILURES):
                answer = await sign_in(client, names[n % len(names)], f"203.0.113.{n}", "guess")
                problem(answer, 401, "SecurityError")
            locked = await sign_in(client, "alice", "203.0.113.99")
            assert "too many failed sign-ins" in problem(locked, 401, "SecurityError")["detail"]
        failed = await audited(gateway, AuditAction.OPERATOR_LOGIN_FAILED)
        assert {d["client"] for d in failed} == {"127.0.0.1"}
    finally:
        await gateway.__aexit__(None, None, None)
