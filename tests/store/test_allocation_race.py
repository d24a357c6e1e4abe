"""Two transactions can never hold one compartment: allocation under heavy concurrency."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.domain.enums import CompartmentState, SizeClass
from gateway.domain.sizes import SizeRequirement
from gateway.errors import NoCompartmentAvailable
from gateway.store import Store
from tests.store.builders import compartments, locker

ATTEMPTS = 200
BOXES = 20


async def attempt(store: Store, need: SizeRequirement, parcel_uid: str) -> str | None:
    try:
        async with store.transaction() as uow:
            return (await uow.lockers.allocate("RACE-1", need, parcel_uid)).code
    except NoCompartmentAvailable:
        return None


@pytest.mark.parametrize(
    ("sizes", "need"),
    [
        pytest.param([SizeClass.S] * BOXES, SizeRequirement(SizeClass.S), id="uniform"),
        pytest.param(
            [SizeClass.XL, SizeClass.XS, SizeClass.M, SizeClass.L, SizeClass.S] * (BOXES // 5),
            SizeRequirement(SizeClass.XS),
            id="mixed",
        ),
    ],
)
async def test_200_concurrent_bookings_fill_20_boxes_exactly_once(
    store: Store, sizes: list[SizeClass], need: SizeRequirement
) -> None:
    async with store.transaction() as uow:
        await uow.lockers.add(locker("RACE-1"), compartments("RACE-1", sizes))

    started = time.perf_counter()
    results = await asyncio.gather(*(attempt(store, need, f"parcel-{i}") for i in range(ATTEMPTS)))
    elapsed = time.perf_counter() - started

    won = {f"parcel-{i}": code for i, code in enumerate(results) if code is not None}
    assert len(won) == BOXES, f"{len(won)} bookings succeeded"
    assert results.count(None) == ATTEMPTS - BOXES
    assert len(set(won.values())) == BOXES, "a compartment was handed out twice"
    async with store.transaction() as uow:
        stored = await uow.lockers.compartments("RACE-1")
    assert all(box.state is CompartmentState.RESERVED for box in stored)
    assert {box.parcel_uid: box.code for box in stored} == won
    print(f"\n{store.dialect}: {ATTEMPTS} concurrent allocations in {elapsed:.3f}s")


async def test_a_booking_waits_for_a_claimant_that_rolls_back(store: Store) -> None:
    """The compartment another transaction is claiming is not lost if that claim fails."""
    async with store.transaction() as uow:
        await uow.lockers.add(locker("RACE-1"), compartments("RACE-1", [SizeClass.S]))
    claimed, give_up = asyncio.Event(), asyncio.Event()
    need = SizeRequirement(SizeClass.S)

    async def claim_then_fail() -> None:
        async with store.transaction() as uow:
            await uow.lockers.allocate("RACE-1", need, "doomed")
            claimed.set()
            await give_up.wait()
            raise RuntimeError("the carrier's request failed after allocating")

    async def doomed() -> None:
        with pytest.raises(RuntimeError, match="failed after allocating"):
            await claim_then_fail()

    async def patient() -> str | None:
        await claimed.wait()
        return await attempt(store, need, "patient")

    async with asyncio.TaskGroup() as tg:
        tg.create_task(doomed(), name="doomed")
        waiting = tg.create_task(patient(), name="patient")
        await claimed.wait()
        await asyncio.sleep(0.3)
        assert not waiting.done(), "the second booking did not wait for the first"
        give_up.set()
    assert waiting.result() == "C01"
