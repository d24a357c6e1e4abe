"""tx.grants: what an issued grant binds, redeemed once, purged after expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.door import OpenPurpose
from gateway.errors import AlreadyExists
from gateway.store import GrantRecord, Store

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def record(jti: str, *, expires_at: datetime = T0 + timedelta(hours=1)) -> GrantRecord:
    return GrantRecord(
        jti=jti,
        parcel_uid="uid-1",
        locker_id="WAW-CENTRAL-01",
        compartment_code="A03",
        action=OpenPurpose.PICKUP,
        kid="kid-1",
        not_before=T0,
        expires_at=expires_at,
        issued_at=T0,
    )


async def test_add_get_and_redeem_once(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.grants.add(record("jti-aaaaaaaaaaaaaaaa"))
    async with store.transaction() as tx:
        got = await tx.grants.get("jti-aaaaaaaaaaaaaaaa")
        assert got == record("jti-aaaaaaaaaaaaaaaa")
        assert got is not None
        assert got.action is OpenPurpose.PICKUP
        assert await tx.grants.get("jti-unknown") is None
        assert await tx.grants.redeem("jti-aaaaaaaaaaaaaaaa", T0 + timedelta(minutes=5))
        assert not await tx.grants.redeem("jti-aaaaaaaaaaaaaaaa", T0 + timedelta(minutes=6))
        assert not await tx.grants.redeem("jti-unknown", T0)
    async with store.transaction() as tx:
        got = await tx.grants.get("jti-aaaaaaaaaaaaaaaa")
    assert got is not None
    assert got.redeemed_at == T0 + timedelta(minutes=5)


async def test_a_duplicate_jti_is_refused(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.grants.add(record("jti-bbbbbbbbbbbbbbbb"))
    with pytest.raises(AlreadyExists):
        async with store.transaction() as tx:
            await tx.grants.add(record("jti-bbbbbbbbbbbbbbbb"))


async def test_concurrent_redeems_have_one_winner(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.grants.add(record("jti-cccccccccccccccc"))

    async def redeem() -> bool:
        async with store.transaction() as tx:
            return await tx.grants.redeem("jti-cccccccccccccccc", T0)

    results = await asyncio.gather(*(redeem() for _ in range(6)))
    assert sorted(results) == [False] * 5 + [True]


async def test_purge_drops_only_grants_expired_before_the_cut(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.grants.add(record("jti-old-aaaaaaaaaaa", expires_at=T0))
        await tx.grants.add(record("jti-new-aaaaaaaaaaa", expires_at=T0 + timedelta(days=1)))
    async with store.transaction() as tx:
        assert await tx.grants.purge(T0 + timedelta(seconds=1)) == 1
    async with store.transaction() as tx:
        assert await tx.grants.get("jti-old-aaaaaaaaaaa") is None
        assert await tx.grants.get("jti-new-aaaaaaaaaaa") is not None
        assert [g.jti for g in await tx.grants.for_parcel("uid-1")] == ["jti-new-aaaaaaaaaaa"]
