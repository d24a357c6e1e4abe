"""Parcels: round trips, duplicates, optimistic updates, paging, due timers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from gateway.domain.enums import Direction, ParcelState, SizeClass
from gateway.domain.parcel import Parcel
from gateway.domain.sizes import Dimensions, SizeRequirement
from gateway.errors import AlreadyExists, ConcurrentUpdate
from gateway.store import Store
from tests.store.builders import T0, parcel

H = timedelta(hours=1)


async def insert(store: Store, *parcels: Parcel) -> None:
    async with store.transaction() as uow:
        for item in parcels:
            await uow.parcels.insert(item)


async def test_round_trip_of_every_field(store: Store) -> None:
    full = parcel(
        "JJ123456785PL",
        direction=Direction.FIRST_MILE,
        state=ParcelState.READY_FOR_PICKUP,
        locker_id="KRK-001",
        compartment_code="C07",
        # dimensionsMm length 600 x width 300 x height 50
        need=SizeRequirement(SizeClass.M, Dimensions(300, 50, 600), 2_500),
        reference="order 42",
        reserved_until=T0 + H,
        pickup_until=T0 + 48 * H,
        pickup_window=timedelta(hours=36),
        reservation_ttl=timedelta(minutes=90),
        redirected_from="P-0",
        redirected_to="P-2",
        updated_at=T0 + H,
        version=3,
        last_seq=5,
    )
    minimal = parcel("P-2", need=SizeRequirement(dimensions=Dimensions(10, 20, 30)))
    await insert(store, full, minimal)
    async with store.transaction() as uow:
        assert await uow.parcels.get("acme", "JJ123456785PL") == full
        assert await uow.parcels.get_by_uid(minimal.uid) == minimal
        assert await uow.parcels.get("globex", "JJ123456785PL") is None
        assert await uow.parcels.get_by_uid("no-such-uid") is None
        # for_update locks on PostgreSQL and is a no-op on SQLite; the answer is the same.
        assert await uow.parcels.get("acme", "P-2", for_update=True) == minimal
        assert await uow.parcels.get_by_uid(full.uid, for_update=True) == full


async def test_a_parcel_id_is_unique_per_carrier(store: Store) -> None:
    await insert(store, parcel("P-1"))
    with pytest.raises(AlreadyExists):
        await insert(store, parcel("P-1"))
    await insert(store, parcel("P-1", carrier_id="globex"))
    async with store.transaction() as uow:
        assert len((await uow.parcels.list("acme"))[0]) == 1
        assert len((await uow.parcels.list("globex"))[0]) == 1


async def test_update_bumps_the_version(store: Store) -> None:
    before = parcel()
    await insert(store, before)
    after = replace(before, state=ParcelState.RESERVED, compartment_code="C01", last_seq=2)
    async with store.transaction() as uow:
        stored = await uow.parcels.update(before, after)
    assert stored == replace(after, version=1)
    async with store.transaction() as uow:
        assert await uow.parcels.get_by_uid(before.uid) == stored


async def test_a_stale_update_is_a_concurrent_update(store: Store) -> None:
    before = parcel()
    await insert(store, before)
    async with store.transaction() as uow:
        await uow.parcels.update(before, replace(before, reference="first"))
    with pytest.raises(ConcurrentUpdate):
        async with store.transaction() as uow:
            await uow.parcels.update(before, replace(before, reference="second"))
    async with store.transaction() as uow:
        stored = await uow.parcels.get_by_uid(before.uid)
    assert stored is not None
    assert (stored.reference, stored.version) == ("first", 1)


async def test_two_concurrent_updates_one_wins(store: Store) -> None:
    before = parcel()
    await insert(store, before)

    async def write(reference: str) -> str:
        try:
            async with store.transaction() as uow:
                await uow.parcels.update(before, replace(before, reference=reference))
        except ConcurrentUpdate:
            return "lost"
        return "won"

    outcomes = await asyncio.gather(*(write(f"r{i}") for i in range(10)))
    assert sorted(outcomes) == ["lost"] * 9 + ["won"]


async def test_update_cannot_change_identity(store: Store) -> None:
    before = parcel()
    await insert(store, before)
    with pytest.raises(ValueError, match="cannot change"):
        async with store.transaction() as uow:
            await uow.parcels.update(before, replace(before, parcel_id="P-9"))


async def test_cursor_paging_in_creation_order(store: Store) -> None:
    mine = [parcel(f"P-{i}") for i in range(7)]
    theirs = parcel("P-x", carrier_id="globex")
    await insert(store, mine[0], theirs, *mine[1:])

    pages: list[list[str]] = []
    cursor: int | None = None
    async with store.transaction() as uow:
        while True:
            items, cursor = await uow.parcels.list("acme", after_seq=cursor, limit=3)
            pages.append([p.parcel_id for p in items])
            if cursor is None:
                break
        exact, no_more = await uow.parcels.list("acme", limit=7)
    assert pages == [["P-0", "P-1", "P-2"], ["P-3", "P-4", "P-5"], ["P-6"]]
    assert len(exact) == 7
    assert no_more is None


async def test_listing_filters_by_state_and_locker(store: Store) -> None:
    await insert(
        store,
        parcel("a", state=ParcelState.RESERVED, locker_id="L1"),
        parcel("b", state=ParcelState.RESERVED, locker_id="L2"),
        parcel("c", state=ParcelState.ANNOUNCED, locker_id="L1"),
    )
    async with store.transaction() as uow:
        reserved, _ = await uow.parcels.list("acme", state=ParcelState.RESERVED)
        at_l1, _ = await uow.parcels.list("acme", locker_id="L1")
        both, _ = await uow.parcels.list("acme", state=ParcelState.RESERVED, locker_id="L1")
        with pytest.raises(ValueError, match="limit"):
            await uow.parcels.list("acme", limit=0)
    assert [p.parcel_id for p in reserved] == ["a", "b"]
    assert [p.parcel_id for p in at_l1] == ["a", "c"]
    assert [p.parcel_id for p in both] == ["a"]


async def test_due_reservations_and_pickups(store: Store) -> None:
    await insert(
        store,
        parcel("late", state=ParcelState.RESERVED, reserved_until=T0 - H),
        parcel("now", state=ParcelState.DROPOFF_ANNOUNCED, reserved_until=T0),
        parcel("early", state=ParcelState.RESERVED, reserved_until=T0 + H),
        parcel("done", state=ParcelState.CANCELLED, reserved_until=T0 - H),
        parcel("pick-late", state=ParcelState.READY_FOR_PICKUP, pickup_until=T0 - 2 * H),
        parcel("pick-now", state=ParcelState.READY_FOR_PICKUP, pickup_until=T0),
        parcel("pick-early", state=ParcelState.READY_FOR_PICKUP, pickup_until=T0 + H),
        parcel("gone", state=ParcelState.PICKED_UP, pickup_until=T0 - H),
    )
    async with store.transaction() as uow:
        reservations = await uow.parcels.due_reservations(T0, 10)
        first = await uow.parcels.due_reservations(T0, 1)
        pickups = await uow.parcels.due_pickups(T0, 10)
    assert [p.parcel_id for p in reservations] == ["late", "now"]
    assert [p.parcel_id for p in first] == ["late"]
    assert [p.parcel_id for p in pickups] == ["pick-late", "pick-now"]


async def test_sweepers_on_postgresql_split_due_parcels(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises whole transactions")
    await insert(
        store,
        *(parcel(f"P-{i}", state=ParcelState.RESERVED, reserved_until=T0 - H) for i in range(4)),
    )
    async with store.transaction() as first:
        mine = await first.parcels.due_reservations(T0, 2, for_update=True)
        async with store.transaction() as second:
            theirs = await second.parcels.due_reservations(T0, 10, for_update=True)
    assert [p.parcel_id for p in mine] == ["P-0", "P-1"]
    assert [p.parcel_id for p in theirs] == ["P-2", "P-3"]


async def test_only_whole_seconds_are_stored(store: Store) -> None:
    with pytest.raises(ValueError, match="whole number of seconds"):
        await insert(store, parcel(pickup_window=timedelta(seconds=1.5)))
