"""Allocation reads free doors page by page in the domain's order and still finds the fit."""

from __future__ import annotations

from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.sizes import Dimensions, SizeRequirement
from gateway.store import Store
from tests.store.builders import locker


async def test_the_fitting_door_may_lie_several_pages_down(store: Store) -> None:
    # 70 shallow S doors first (they sort first: same class, smaller volume), then one deep S.
    shallow = [
        Compartment("BIG-1", f"A{n:03d}", SizeClass.S, Dimensions(380, 190, 300), 10_000)
        for n in range(70)
    ]
    deep = Compartment("BIG-1", "Z999", SizeClass.S, Dimensions(380, 190, 640), 10_000)
    async with store.transaction() as tx:
        await tx.lockers.add(locker("BIG-1"), [*shallow, deep])
    need = SizeRequirement(dimensions=Dimensions(350, 150, 600))  # only the deep door fits
    async with store.transaction() as tx:
        chosen = await tx.lockers.allocate("BIG-1", need, "parcel-1")
    assert chosen.code == "Z999"


async def test_pages_keep_the_smallest_first_order(store: Store) -> None:
    doors = [
        Compartment("BIG-2", f"D{n:03d}", SizeClass.M, Dimensions(380, 410, 640), 20_000)
        for n in range(80)
    ]
    async with store.transaction() as tx:
        await tx.lockers.add(locker("BIG-2"), doors)
    codes = []
    for n in range(40):
        async with store.transaction() as tx:
            got = await tx.lockers.allocate(
                "BIG-2", SizeRequirement(size_class=SizeClass.M), f"p-{n}"
            )
        codes.append(got.code)
    assert codes == [f"D{n:03d}" for n in range(40)]
