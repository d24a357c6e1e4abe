"""Behind `$share` one locker's events are spread over the instances: the instance that gets an
event before the earlier ones are committed waits for them instead of asking for a replay."""

from __future__ import annotations

import asyncio
import time

from gateway.domain.enums import SizeClass
from gateway.sdk import DoorOpened
from gateway.service.adapters import AdapterDirectory
from gateway.service.event_order import EventGap, EventOrder
from gateway.store import Store
from tests.store.builders import T0, compartments, locker

LOCKER = "WAW-001"


def instance(store: Store, gap_wait_s: float = 2.0) -> EventOrder:
    """One gateway instance's view of the journal order (they share only the database)."""
    return EventOrder(
        store=store, adapters=AdapterDirectory(store=store, adapters={}), gap_wait_s=gap_wait_s
    )


def opened(event_seq: int) -> DoorOpened:
    return DoorOpened(
        locker_id=LOCKER,
        at=T0,
        event_id=f"e-{event_seq}",
        event_seq=event_seq,
        compartment_code="C01",
    )


async def booted(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.lockers.add(locker(LOCKER), compartments(LOCKER, [SizeClass.S]))
        await tx.sessions.mark_booted(LOCKER, T0, "1.0", {})


async def test_the_next_event_waits_for_the_other_instance_to_apply_it(store: Store) -> None:
    await booted(store)
    first, second = instance(store), instance(store)
    # Event 2 reaches the second instance while event 1 still waits in the first one's lane.
    async with store.transaction() as tx:
        gap = None
        try:
            await second.admit(tx, opened(2))
        except EventGap as err:
            gap = err
    assert gap is not None
    assert (gap.mark, gap.event_seq) == (0, 2)

    async def first_applies_event_1_soon() -> None:
        await asyncio.sleep(0.3)
        async with store.transaction() as tx:
            assert await first.admit(tx, opened(1))

    started = time.monotonic()
    _, its_turn = await asyncio.gather(first_applies_event_1_soon(), second.wait_for_turn(gap))
    assert its_turn
    assert time.monotonic() - started < 1.5  # once event 1 is in, not after the whole wait
    async with store.transaction() as tx:
        assert await second.admit(tx, opened(2))  # applied, without a replay
    async with store.transaction() as tx:
        assert await tx.sessions.event_mark(LOCKER) == 2


async def test_an_event_lost_for_good_is_left_to_the_replay_after_the_wait(store: Store) -> None:
    await booted(store)
    order = instance(store, gap_wait_s=0.3)
    started = time.monotonic()
    # Event 1 never comes (the instance that took it died before its commit).
    assert not await order.wait_for_turn(EventGap(LOCKER, 0, 2))
    assert 0.3 <= time.monotonic() - started < 2.0
