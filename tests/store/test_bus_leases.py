"""Bus leases on both engines: one holder at a time, takeover after expiry, fenced renewals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from gateway.store import Store

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
TTL = timedelta(seconds=15)


async def acquire(store: Store, owner: str, now: datetime) -> object:
    async with store.transaction() as tx:
        return await tx.bus_leases.acquire("modbus", owner, now=now, ttl=TTL)


async def test_one_holder_until_the_lease_expires(store: Store) -> None:
    async with store.transaction() as tx:
        first = await tx.bus_leases.acquire("modbus", "gw-1", now=T0, ttl=TTL)
    assert first is not None
    assert (first.owner, first.token, first.expires_at) == ("gw-1", 1, T0 + TTL)
    # Neither another instance nor a second process under the same name gets it meanwhile.
    assert await acquire(store, "gw-2", T0 + TTL - timedelta(seconds=1)) is None
    assert await acquire(store, "gw-1", T0 + timedelta(seconds=1)) is None
    async with store.transaction() as tx:
        assert await tx.bus_leases.get("modbus") == first
        # Another bus is another lease.
        assert await tx.bus_leases.acquire("kerong-cu16", "gw-2", now=T0, ttl=TTL) is not None


async def test_takeover_after_expiry_fences_the_old_holder(store: Store) -> None:
    async with store.transaction() as tx:
        old = await tx.bus_leases.acquire("modbus", "gw-1", now=T0, ttl=TTL)
    assert old is not None
    later = T0 + TTL
    async with store.transaction() as tx:
        new = await tx.bus_leases.acquire("modbus", "gw-2", now=later, ttl=TTL)
    assert new is not None
    assert (new.owner, new.token, new.acquired_at, new.expires_at) == (
        "gw-2",
        2,
        later,
        later + TTL,
    )
    async with store.transaction() as tx:
        # The stale holder, back from a pause, can neither renew nor release the new lease,
        # even at a moment its own lease would still have covered.
        assert await tx.bus_leases.renew(old, now=T0 + timedelta(seconds=1), ttl=TTL) is None
        assert not await tx.bus_leases.release(old, now=later)
        assert await tx.bus_leases.get("modbus") == new


async def test_renew_extends_and_an_expired_lease_cannot_be_renewed(store: Store) -> None:
    async with store.transaction() as tx:
        lease = await tx.bus_leases.acquire("modbus", "gw-1", now=T0, ttl=TTL)
    assert lease is not None
    async with store.transaction() as tx:
        renewed = await tx.bus_leases.renew(lease, now=T0 + timedelta(seconds=5), ttl=TTL)
    assert renewed is not None
    assert (renewed.token, renewed.expires_at) == (1, T0 + timedelta(seconds=20))
    # Not taken at the old expiry: the renewal counts.
    assert await acquire(store, "gw-2", T0 + TTL) is None
    async with store.transaction() as tx:
        assert await tx.bus_leases.renew(renewed, now=T0 + timedelta(seconds=20), ttl=TTL) is None


async def test_release_lets_another_instance_take_over_at_once(store: Store) -> None:
    async with store.transaction() as tx:
        lease = await tx.bus_leases.acquire("modbus", "gw-1", now=T0, ttl=TTL)
    assert lease is not None
    async with store.transaction() as tx:
        assert await tx.bus_leases.release(lease, now=T0 + timedelta(seconds=2))
    async with store.transaction() as tx:
        new = await tx.bus_leases.acquire("modbus", "gw-2", now=T0 + timedelta(seconds=2), ttl=TTL)
    assert new is not None
    assert (new.owner, new.token) == ("gw-2", 2)


async def test_racing_instances_elect_exactly_one(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.bus_leases.acquire("modbus", "gw-0", now=T0, ttl=TTL)
    # The lease has expired: eight instances race for it, each in its own transaction.
    later = T0 + TTL + timedelta(seconds=1)
    results = await asyncio.gather(*(acquire(store, f"gw-{n}", later) for n in range(1, 9)))
    winners = [lease for lease in results if lease is not None]
    assert len(winners) == 1
    async with store.transaction() as tx:
        assert await tx.bus_leases.get("modbus") == winners[0]
