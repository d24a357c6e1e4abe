"""The outbox repository: due rows in parcel order, leases, fenced outcomes, disjoint claims."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from gateway.domain.webhooks import DeliveryState
from gateway.store import CarrierRecord, Delivery, NewDelivery, Store, WebhookSubscriptionRecord

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


async def subscribe(store: Store, sub_id: str = "sub-1") -> None:
    async with store.transaction() as tx:
        if await tx.carriers.get("acme") is None:
            await tx.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, T0))
        sub = WebhookSubscriptionRecord(sub_id, "acme", "http://x.test/h", None, None, True, T0)
        await tx.webhooks.add(sub)


async def enqueue(store: Store, parcel: str, seq: int, sub_id: str = "sub-1") -> None:
    new = NewDelivery(f"{parcel}-{seq}", sub_id, "acme", parcel, seq, "parcel.reserved", {})
    async with store.transaction() as tx:
        assert await tx.outbox.enqueue(new, at=T0)


async def claim(store: Store, now: datetime = T0, limit: int = 50) -> list[Delivery]:
    async with store.transaction() as tx:
        return await tx.outbox.claim(now=now, lease_until=now + LEASE, limit=limit)


async def test_one_event_per_parcel_at_a_time_in_order(store: Store) -> None:
    await subscribe(store)
    for seq in (1, 2, 3):
        await enqueue(store, "p1", seq)
    await enqueue(store, "p2", 1)

    first = await claim(store)
    assert sorted((d.parcel_uid, d.parcel_seq) for d in first) == [("p1", 1), ("p2", 1)]
    assert await claim(store) == []  # leased, and p1's next waits behind its first

    async with store.transaction() as tx:
        p1 = next(d for d in first if d.parcel_uid == "p1")
        assert await tx.outbox.mark_delivered(p1, status=204, at=T0)
    (second,) = await claim(store)
    assert (second.parcel_uid, second.parcel_seq, second.attempts) == ("p1", 2, 1)


async def test_a_lapsed_lease_is_claimed_again_and_the_late_outcome_is_dropped(
    store: Store,
) -> None:
    await subscribe(store)
    await enqueue(store, "p1", 1)
    (stale,) = await claim(store)

    (fresh,) = await claim(store, now=T0 + LEASE)  # the first sender crashed or hung

    assert fresh.attempts == 2
    async with store.transaction() as tx:
        assert not await tx.outbox.mark_delivered(stale, status=204, at=T0)
        assert await tx.outbox.mark_failed(fresh, status=503, error="HTTP 503", retry_at=None)
        row = await tx.outbox.get("sub-1", fresh.id)
    assert row is not None
    assert (row.state, row.last_status, row.attempts) == (DeliveryState.DEAD, 503, 2)


async def test_the_same_event_is_queued_once_per_subscription(store: Store) -> None:
    await subscribe(store)
    await enqueue(store, "p1", 1)
    new = NewDelivery("p1-1", "sub-1", "acme", "p1", 1, "parcel.reserved", {})
    async with store.transaction() as tx:
        assert not await tx.outbox.enqueue(new, at=T0)


async def test_concurrent_claims_never_overlap(database_url: str) -> None:
    stores = [Store.connect(database_url) for _ in range(4)]
    try:
        await stores[0].migrate()
        await subscribe(stores[0])
        for n in range(60):
            await enqueue(stores[0], f"p{n}", 1)

        batches = await asyncio.gather(*(claim(s, limit=10) for s in stores * 2))
    finally:
        for store in stores:
            await store.close()

    ids = [d.id for batch in batches for d in batch]
    assert len(ids) == len(set(ids)) == 60
