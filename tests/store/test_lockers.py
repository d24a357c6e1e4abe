"""Lockers and compartments: round trip, conditional saves, SQL availability, allocation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.domain.enums import CompartmentState, DoorState, ItemSensor, SizeClass
from gateway.domain.locker import SizeAvailability, availability
from gateway.domain.sizes import Dimensions, SizeRequirement
from gateway.errors import AlreadyExists, ConcurrentUpdate, NoCompartmentAvailable
from gateway.store import Store
from tests.store.builders import compartments, locker

XS, S, M, L, XL = SizeClass


async def test_round_trip(store: Store) -> None:
    site = locker("WAW-001")
    boxes = compartments("WAW-001", [M, XS, S])
    bare = locker("KRK-001", features=frozenset(), location=replace(site.location, address=None))
    async with store.transaction() as uow:
        await uow.lockers.add(site, boxes)
        await uow.lockers.add(bare, [])
    async with store.transaction() as uow:
        assert await uow.lockers.get("WAW-001") == site
        assert await uow.lockers.get("nowhere") is None
        assert await uow.lockers.list() == [bare, site]
        assert await uow.lockers.compartments("WAW-001") == boxes
        assert await uow.lockers.compartments("KRK-001") == []
        assert await uow.lockers.compartment("WAW-001", "C02") == boxes[1]
        assert await uow.lockers.compartment("WAW-001", "C99") is None


async def test_a_duplicate_locker_is_already_exists(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), compartments("WAW-001", [S]))
    with pytest.raises(AlreadyExists):
        async with store.transaction() as uow:
            await uow.lockers.add(locker("WAW-001"), compartments("WAW-001", [M, L]))
    async with store.transaction() as uow:
        assert len(await uow.lockers.compartments("WAW-001")) == 1


async def test_a_layout_must_be_consistent(store: Store) -> None:
    twice = compartments("WAW-001", [S]) * 2
    with pytest.raises(ValueError, match="twice"):
        async with store.transaction() as uow:
            await uow.lockers.add(locker("WAW-001"), twice)
    with pytest.raises(ValueError, match="belong"):
        async with store.transaction() as uow:
            await uow.lockers.add(locker("WAW-001"), compartments("KRK-001", [S]))


async def test_save_compartment_is_conditional_on_state_and_parcel(store: Store) -> None:
    box = compartments("WAW-001", [S])[0]
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), [box])
    reserved = box.reserve("parcel-1")
    opened = replace(reserved.occupy(), door=DoorState.OPEN, item=ItemSensor.PRESENT)
    async with store.transaction() as uow:
        await uow.lockers.save_compartment(box, reserved)
        await uow.lockers.save_compartment(reserved, opened)
    async with store.transaction() as uow:
        assert await uow.lockers.compartment("WAW-001", "C01") == opened

    # `box` (available, no parcel) is stale now: the write must be refused.
    with pytest.raises(ConcurrentUpdate):
        async with store.transaction() as uow:
            await uow.lockers.save_compartment(box, box.reserve("parcel-2"))
    # Same state, another parcel: refused too.
    other = replace(opened, parcel_uid="parcel-9")
    with pytest.raises(ConcurrentUpdate):
        async with store.transaction() as uow:
            await uow.lockers.save_compartment(other, other.release())
    async with store.transaction() as uow:
        assert await uow.lockers.compartment("WAW-001", "C01") == opened


async def test_availability_is_counted_per_locker_and_size(store: Store) -> None:
    waw = compartments("WAW-001", [XL, S, S, M, S])
    krk = compartments("KRK-001", [L])
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), waw)
        await uow.lockers.add(locker("KRK-001"), krk)
        await uow.lockers.add(locker("GDN-001"), [])
        await uow.lockers.save_compartment(waw[1], waw[1].reserve("p1"))
        await uow.lockers.save_compartment(waw[4], waw[4].disable())
        waw[1], waw[4] = waw[1].reserve("p1"), waw[4].disable()

    async with store.transaction() as uow:
        everything = await uow.lockers.availability(None)
        only_waw = await uow.lockers.availability(["WAW-001", "unknown"])
        nothing = await uow.lockers.availability([])

    assert everything == {"KRK-001": availability(krk), "WAW-001": availability(waw)}
    assert everything["WAW-001"] == [
        SizeAvailability(S, 1, 3),
        SizeAvailability(M, 1, 1),
        SizeAvailability(XL, 1, 1),
    ]
    assert only_waw == {"WAW-001": availability(waw)}
    assert nothing == {}


async def test_allocate_takes_the_smallest_fitting_compartment(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), compartments("WAW-001", [XL, M, S, M, XS]))

    async with store.transaction() as uow:
        first = await uow.lockers.allocate("WAW-001", SizeRequirement(M), "p1")
        second = await uow.lockers.allocate("WAW-001", SizeRequirement(M), "p2")
        third = await uow.lockers.allocate("WAW-001", SizeRequirement(M), "p3")
    assert (first.code, second.code, third.code) == ("C02", "C04", "C01")
    assert first.state is CompartmentState.RESERVED
    assert first.parcel_uid == "p1"

    async with store.transaction() as uow:
        stored = await uow.lockers.compartment("WAW-001", "C04")
        with pytest.raises(NoCompartmentAvailable):
            await uow.lockers.allocate("WAW-001", SizeRequirement(M), "p4")
    assert stored == second


async def test_allocate_by_dimensions_and_weight(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), compartments("WAW-001", [XS, S, L]))
    # 600 mm long fits XS (380x80x640) only lying down: rotation must be allowed.
    flat = SizeRequirement(dimensions=Dimensions(width_mm=300, height_mm=50, depth_mm=600))
    heavy = SizeRequirement(dimensions=Dimensions(100, 100, 100), weight_g=12_000)
    tall = SizeRequirement(dimensions=Dimensions(450, 700, 450))
    async with store.transaction() as uow:
        assert (await uow.lockers.allocate("WAW-001", flat, "p1")).code == "C01"
        # S takes 10 kg at most: a 12 kg parcel goes to the L box.
        assert (await uow.lockers.allocate("WAW-001", heavy, "p2")).code == "C03"
        with pytest.raises(NoCompartmentAvailable):
            await uow.lockers.allocate("WAW-001", tall, "p3")


async def test_allocate_ignores_other_lockers_and_unusable_boxes(store: Store) -> None:
    waw = compartments("WAW-001", [S, S])
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), waw)
        await uow.lockers.add(locker("KRK-001"), compartments("KRK-001", [S]))
        await uow.lockers.save_compartment(waw[0], waw[0].disable())
        await uow.lockers.save_compartment(waw[1], waw[1].reserve("p0"))
    with pytest.raises(NoCompartmentAvailable):
        async with store.transaction() as uow:
            await uow.lockers.allocate("WAW-001", SizeRequirement(S), "p1")
    with pytest.raises(NoCompartmentAvailable):
        async with store.transaction() as uow:
            await uow.lockers.allocate("nowhere", SizeRequirement(S), "p1")
